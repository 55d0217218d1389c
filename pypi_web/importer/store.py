"""The generic store of imported projects (``Importer``): PyPI JSON documents
(pypi_json.py) and installed distributions (installed.py) subclass it.

Each source is stored inside a savepoint through the packaging writer
(pypi_web.packaging.writer); the caller commits once."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from pypi_web.models import (
    Classifier,
    Package,
    Release,
    ReleaseFile,
    package_classifiers,
    utcnow,
)
from pypi_web.packaging import versions, writer
from pypi_web.packaging.journal import journal, refresh_last_updated
from pypi_web.packaging.names import normalize
from pypi_web.packaging.services import resembled_project

from .data import RELEASE_METADATA, BadDocument, ImportReport, ProjectData, release_times

# Columns of an imported file that a later document may correct; the filename,
# size and sha256 identify the file and never change.
_FILE_MUTABLE = (
    "packagetype",
    "python_version",
    "requires_python",
    "md5_digest",
    "blake2_256_digest",
    "upload_time",
    "comment_text",
    "url",
)


# Bound parameters per IN list: well below every backend's limit.
_CHUNK = 500


class Importer:
    """Stores ProjectData in one session, each source in a savepoint; the caller commits.

    ``authoritative`` sources (JSON documents from an index) overwrite what is
    stored for the project; the others (installed distributions) only add
    what is missing, so they never replace richer data from an index.
    """

    def __init__(self, dbsession: Session, report: ImportReport | None = None):
        self.dbsession = dbsession
        self.report = report if report is not None else ImportReport()
        self._classifier_ids: dict[str, int] = dict(
            dbsession.execute(select(Classifier.classifier, Classifier.id)).all()
        )

    @contextmanager
    def savepoint(self, source: str) -> Iterator[None]:
        """Store one source atomically; a failure is recorded against ``source``."""
        counts = {k: v for k, v in vars(self.report).items() if isinstance(v, int)}
        touched = set(self.report.touched)
        classifier_ids = dict(self._classifier_ids)
        savepoint = self.dbsession.begin_nested()
        try:
            yield
        except (BadDocument, SQLAlchemyError) as exc:
            savepoint.rollback()
            # Nothing of this source was kept, so nothing of it is counted.
            for key, value in counts.items():
                setattr(self.report, key, value)
            self.report.touched = touched
            self._classifier_ids = classifier_ids
            if isinstance(exc, SQLAlchemyError):
                first_line = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                reason = f"the database refused it: {first_line}"
            else:
                reason = str(exc)
            self.report.errors.append((source, reason))
        else:
            savepoint.commit()

    def store(self, project: ProjectData, *, authoritative: bool) -> Package:
        normalized = normalize(project.name)
        package = self.dbsession.scalars(
            select(Package).where(Package.normalized_name == normalized)
        ).one_or_none()
        times = release_times(project.releases)
        now = utcnow()
        earliest = min((t for t in times.values() if t is not None), default=now)

        if package is None:
            package = writer.create_project(
                self.dbsession,
                # A project PyPI accepted beside an older look-alike (before it
                # checked) is mirrored too, without the value the older one holds.
                **_unless_resembling(self.dbsession, project.name),
                created=earliest,
                last_updated=earliest,
                **project.fields,
            )
            self.report.packages_created += 1
            self.report.touched.add(package.id)
            new_package, changed = True, True
            self._link_classifiers(package, project.classifiers)
        else:
            new_package, changed = False, False

        release_ids, releases_changed = self._store_releases(
            package, project, times, now, authoritative
        )
        changed |= releases_changed
        if authoritative and not new_package:
            # A package's metadata is its newest release's: a document about an
            # older one (the index has since had a newer upload) leaves it alone.
            described = project.described_version
            newest = max(release_ids, key=versions.sort_key, default=None)
            if described is None or described == newest:
                for column, value in project.fields.items():
                    if getattr(package, column) != value:
                        setattr(package, column, value)
                        changed = True
            if earliest < package.created:
                package.created = earliest
                changed = True
            changed |= self._link_classifiers(package, project.classifiers)
        if changed:
            if package.id not in self.report.touched:
                self.report.touched.add(package.id)
                self.report.packages_updated += 1
            self._record_change(package, new_package)
        return package

    def _store_releases(
        self,
        package: Package,
        project: ProjectData,
        times: dict[str, datetime.datetime | None],
        now: datetime.datetime,
        authoritative: bool,
    ) -> tuple[dict[str, int], bool]:
        """Add the new releases, update described ones; (version -> id of all, changed?)."""
        stored = self._stored_releases(package)
        release_ids = {version: row.id for version, row in stored.items()}
        # An installed "2.0.0" is the index's "2.0": PEP 440 equal versions are one release.
        stored_equal = {versions.equality_key(version) for version in stored}

        new_rows, updates = [], []
        for version, release in project.releases.items():
            row = stored.get(version)
            if row is None and not authoritative and versions.equality_key(version) in stored_equal:
                continue
            if row is None:
                yanked, reason = release.yanked or (False, None)
                new_rows.append(
                    {
                        "version": version,
                        "created": times[version] or now,
                        "yanked": yanked,
                        "yanked_reason": reason,
                        **(release.metadata or dict.fromkeys(RELEASE_METADATA)),
                    }
                )
                continue
            if not authoritative:
                continue
            changes = _release_changes(row, release)
            if changes:
                updates.append((row.id, changes))

        if new_rows:
            inserted, _ = writer.add_releases(self.dbsession, package, new_rows)
            release_ids.update(inserted)
            self.report.releases_created += len(new_rows)
        for release_id, changes in updates:
            # One statement each: the changed columns differ from release to release.
            self.dbsession.execute(update(Release).where(Release.id == release_id).values(changes))
        self.report.releases_updated += len(updates)

        files_changed = self._store_files(package, project, release_ids, authoritative)
        return release_ids, bool(new_rows or updates or files_changed)

    def _stored_releases(self, package: Package) -> dict[str, Any]:
        """The package's releases on the index, by version: their id, yank and metadata."""
        return {
            row.version: row
            for row in self.dbsession.execute(
                select(
                    Release.id,
                    Release.version,
                    Release.yanked,
                    Release.yanked_reason,
                    *(getattr(Release, c) for c in RELEASE_METADATA),
                ).where(Release.package_id == package.id)
            )
        }

    def _store_files(
        self,
        package: Package,
        project: ProjectData,
        release_ids: dict[str, int],
        authoritative: bool,
    ) -> bool:
        incoming = {
            row["filename"]: (version, row)
            for version, release in project.releases.items()
            if version in release_ids  # not one left out as equal to a stored release
            for row in release.files
        }
        if not incoming:
            return False
        version_of = {rid: version for version, rid in release_ids.items()}
        stored = self._stored_files(package)
        self._refuse_foreign_files([n for n in incoming if n not in stored])

        new_rows, updates = [], []
        for filename, (version, row) in incoming.items():
            old = stored.get(filename)
            if old is None:
                new_rows.append({**row, "release_id": release_ids[version]})
                continue
            _refuse_moved_or_replaced_file(filename, version, row, old, version_of)
            if not authoritative or old.path is not None:
                continue  # an upload to this index is never rewritten by an import
            changes = {c: row[c] for c in _FILE_MUTABLE if getattr(old, c) != row[c]}
            if changes:
                updates.append((old.id, changes))

        if new_rows:
            writer.add_files(self.dbsession, new_rows)
            self.report.files_created += len(new_rows)
        for file_id, changes in updates:
            self.dbsession.execute(
                update(ReleaseFile).where(ReleaseFile.id == file_id).values(changes)
            )
        self.report.files_updated += len(updates)
        return bool(new_rows or updates)

    def _stored_files(self, package: Package) -> dict[str, Any]:
        """The package's files on the index, by filename: what identifies them, what may change."""
        return {
            row.filename: row
            for row in self.dbsession.execute(
                select(
                    ReleaseFile.id,
                    ReleaseFile.filename,
                    ReleaseFile.release_id,
                    ReleaseFile.size,
                    ReleaseFile.sha256_digest,
                    ReleaseFile.path,
                    *(getattr(ReleaseFile, c) for c in _FILE_MUTABLE),
                )
                .join(Release)
                .where(Release.package_id == package.id)
            )
        }

    def _refuse_foreign_files(self, filenames: list[str]) -> None:
        """Filenames are unique index-wide: one of another project cannot be imported."""
        for start in range(0, len(filenames), _CHUNK):
            # A probe of the unique index alone; the details only when there is a clash.
            clash = self.dbsession.scalar(
                select(ReleaseFile.id)
                .where(ReleaseFile.filename.in_(filenames[start : start + _CHUNK]))
                .limit(1)
            )
            if clash is not None:
                owner = self.dbsession.execute(
                    select(ReleaseFile.filename, Package.name, Release.version)
                    .join(Release, ReleaseFile.release_id == Release.id)
                    .join(Package, Release.package_id == Package.id)
                    .where(ReleaseFile.id == clash)
                ).one()
                raise BadDocument(
                    f"file {owner.filename} is already on the index "
                    f"as a file of {owner.name} {owner.version}"
                )

    def _link_classifiers(self, package: Package, wanted: list[str]) -> bool:
        """Link the classifiers a source declares; links are only ever added.

        A link made on this index (a data migration inferring a License
        classifier, say) is not undone by re-importing a document without it.
        """
        missing = sorted(set(wanted) - self._classifier_ids.keys())
        if missing:
            inserted = self.dbsession.execute(
                insert(Classifier).returning(Classifier.classifier, Classifier.id),
                [{"classifier": c} for c in missing],
            ).all()
            self._classifier_ids.update(dict(inserted))
        linked = set(
            self.dbsession.scalars(
                select(package_classifiers.c.classifier_id).where(
                    package_classifiers.c.package_id == package.id
                )
            )
        )
        to_link = {self._classifier_ids[c] for c in wanted} - linked
        if to_link:
            self.dbsession.execute(
                insert(package_classifiers),
                [{"package_id": package.id, "classifier_id": cid} for cid in sorted(to_link)],
            )
        return bool(to_link)

    def _record_change(self, package: Package, new_package: bool) -> None:
        """Move the package's serial (its ETag) and last_updated on, with a journal entry."""
        latest = self.dbsession.scalar(
            select(Release.version)
            .where(Release.package_id == package.id)
            .order_by(Release.sort_order.desc())
            .limit(1)
        )
        action = "create (imported)" if new_package else "update (imported)"
        journal(self.dbsession, package, action, version=latest)
        refresh_last_updated(self.dbsession, package)
        self.dbsession.flush()


def _unless_resembling(dbsession: Session, name: str) -> dict[str, None]:
    """Column values for a new package: no ultranormalized name if another holds it."""
    return {"ultranormalized_name": None} if resembled_project(dbsession, name) else {}


def _release_changes(row, release) -> dict[str, Any]:
    """The columns of a stored release that a document describes differently."""
    changes: dict[str, Any] = {}
    if release.metadata is not None:
        changes.update({k: v for k, v in release.metadata.items() if getattr(row, k) != v})
    if release.yanked is not None and (row.yanked, row.yanked_reason) != release.yanked:
        changes["yanked"], changes["yanked_reason"] = release.yanked
    return changes


def _refuse_moved_or_replaced_file(
    filename: str, version: str, row: dict[str, Any], old, version_of: dict[int, str]
) -> None:
    """A stored file stays in its release with its content: a document saying otherwise is bad."""
    at = f"release {version!r}, file {filename}"
    if version_of.get(old.release_id) != version:
        raise BadDocument(
            f"{at}: this file is already on the index under release "
            f"{version_of.get(old.release_id)!r}"
        )
    if (old.sha256_digest, old.size) != (row["sha256_digest"], row["size"]):
        raise BadDocument(
            f"{at}: this file is already on the index with sha256 {old.sha256_digest} "
            f"and {old.size} bytes; a file can never be replaced"
        )
