"""Import PyPI JSON API documents (the body of ``/pypi/<name>/json``).

A document is validated and converted completely before anything is written;
then it is stored inside a savepoint, so a bad document is reported with its
file name and the reason and leaves nothing behind, the rest import, and the
caller commits once. Importing the same documents twice changes nothing.

What the real data holds, and what is done with it:

* Versions are kept exactly as published, legacy (non-PEP 440) ones included;
  "0.12.01" and "0.12.1" are two releases even though PEP 440 calls them equal.
* ``info`` describes the latest release only: its summary, description,
  requires-python and requires-dist go on that release (and on the package);
  other releases get none rather than a copy of someone else's.
* Empty strings and setuptools' "UNKNOWN" placeholder mean "not given" (None);
  a missing or empty ``description_content_type`` stays None (pages guess).
* Author and maintainer fields are stored as written, several comma-separated
  names and addresses included.
* A release with no files is kept. Its ``created`` time is estimated from its
  neighbours in version order (see ``release_times``).
* Filenames are unique across the whole index, as on PyPI, where a filename
  can never be reused: a document that lists one filename twice, or a file
  that is already on the index under another release, is rejected; a file
  already imported is never given other contents (sha256, size).
* A later document updates what it describes: the package's metadata, its
  classifiers (added, never removed: see ``_link_classifiers``), its latest
  release's metadata, yanked flags, and the details
  of known files (a digest added, say). Files uploaded to this index are
  never touched.
* Every project that changes gets a journal entry; its ``last_serial`` and
  ``last_updated`` move on, so caches (ETags) see the change.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select, update
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
from pypi_web.packaging.names import is_valid_name, normalize
from pypi_web.packaging.services import resembled_project


class BadDocument(ValueError):
    """A document that cannot be imported; the message says why."""


@dataclass
class ImportReport:
    documents: int = 0  # JSON documents read
    distributions: int = 0  # installed distributions read
    packages_created: int = 0
    packages_updated: int = 0
    releases_created: int = 0
    releases_updated: int = 0
    files_created: int = 0
    files_updated: int = 0
    # (file name or distribution path, reason), one per source that was not imported
    errors: list[tuple[str, str]] = field(default_factory=list)
    # Packages created or updated so far, so that each is counted once per run.
    touched: set[int] = field(default_factory=set, repr=False)

    @property
    def changed(self) -> bool:
        return bool(
            self.packages_created
            or self.packages_updated
            or self.releases_created
            or self.releases_updated
            or self.files_created
            or self.files_updated
        )


@dataclass
class ReleaseData:
    """One release as a source describes it."""

    # ReleaseFile column values, without release_id.
    files: list[dict[str, Any]] = field(default_factory=list)
    # summary, description, requires_dist ... when the source describes this
    # release (the latest one of a JSON document); None when it says nothing.
    metadata: dict[str, Any] | None = None
    # (yanked, reason) when the source says; None leaves the stored state alone.
    yanked: tuple[bool, str | None] | None = None


@dataclass
class ProjectData:
    """A project as a source describes it, validated and ready to store."""

    name: str
    fields: dict[str, Any]  # Package column values
    classifiers: list[str]
    releases: dict[str, ReleaseData]

    @property
    def described_version(self) -> str | None:
        """The release the project's metadata describes (a JSON document's latest)."""
        return next((v for v, r in self.releases.items() if r.metadata is not None), None)


@functools.cache
def _limits(table: Table) -> dict[str, int]:
    return {c.name: c.type.length for c in table.c if getattr(c.type, "length", None)}


def check_lengths(table: Table, row: dict[str, Any], where: str) -> None:
    """Reject values their column cannot hold.

    SQLite ignores declared lengths and Postgres fails the whole statement, so
    both would otherwise behave differently and neither would say which value.
    """
    limits = _limits(table)
    for column, value in row.items():
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            raise BadDocument(f"{where}: {column} contains a NUL character")
        limit = limits.get(column)
        if limit is not None and len(value) > limit:
            raise BadDocument(f"{where}: {column} is longer than {limit} characters")


def parse_upload_time(value: Any, where: str) -> datetime.datetime:
    """PyPI's upload times are naive UTC ("2010-04-16T14:29:37") or ISO 8601 with a zone."""
    if not isinstance(value, str):
        raise BadDocument(f"{where}: upload_time {value!r} is not a string")
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadDocument(f"{where}: upload_time {value!r} is not a timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC)


def text_value(value: Any, where: str = "", key: str = "") -> str | None:
    """Empty strings and "UNKNOWN" (setuptools' placeholder) mean nothing was given."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadDocument(f"{where}: {key} {value!r} is not a string")
    if value.strip() in ("", "UNKNOWN"):
        return None
    return value


def _string_list(value: Any, where: str, key: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadDocument(f"{where}: {key} is not a list of strings")
    return value


_HEX = re.compile(r"^[0-9a-fA-F]+$")


def _digest(value: Any, length: int, where: str, name: str, required: bool) -> str | None:
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or len(value) != length or not _HEX.match(value):
        raise BadDocument(f"{where}: {name} digest {value!r} is not {length} hex digits")
    return value.lower()


def _web_url(value: Any) -> bool:
    # Only web addresses: a "javascript:" URL would become a link on the simple index.
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


def _project_urls(info: dict, where: str) -> dict[str, str] | None:
    urls = info.get("project_urls")
    result: dict[str, str] = {}
    if urls is not None:
        if not isinstance(urls, dict):
            raise BadDocument(f"{where}: project_urls is not an object")
        for label, url in urls.items():
            url = text_value(url, where, f"project_urls[{label!r}]")
            if url:
                result[label] = url
    for key, label in (
        ("docs_url", "Documentation"),
        ("bugtrack_url", "Bug Tracker"),
        ("download_url", "Download"),
    ):
        value = text_value(info.get(key), where, key)
        if value and label not in result:
            result[label] = value
    return result or None


def _keywords(value: Any, where: str) -> str | None:
    # Newer metadata tools publish keywords as a list.
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v)
    return text_value(value, where, "keywords")


def check_version(version: Any, where: str) -> str:
    if not isinstance(version, str) or not version.strip():
        raise BadDocument(f"{where}: invalid version {version!r}")
    if version != version.strip() or "/" in version or any(ord(c) < 32 for c in version):
        # Such a version could not be addressed as /project/<name>/<version>/.
        raise BadDocument(f"{where}: invalid version {version!r}")
    check_lengths(Release.__table__, {"version": version}, where)
    return version


def file_row(f: Any, where: str) -> dict[str, Any]:
    """A ReleaseFile row (without release_id) from a JSON API file entry."""
    if not isinstance(f, dict):
        raise BadDocument(f"{where}: a file entry is not an object")
    filename = f.get("filename")
    if not isinstance(filename, str) or not filename or "/" in filename or "\\" in filename:
        raise BadDocument(f"{where}: file without a valid filename ({filename!r})")
    where = f"{where}, file {filename}"
    digests = f.get("digests") or {}
    if not isinstance(digests, dict):
        raise BadDocument(f"{where}: digests is not an object")
    size = f.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadDocument(f"{where}: size {size!r} is not a byte count")
    url = f.get("url")
    if not _web_url(url):
        raise BadDocument(f"{where}: download URL {url!r} is not an http(s) URL")
    packagetype = f.get("packagetype")
    if not isinstance(packagetype, str) or not packagetype:
        raise BadDocument(f"{where}: packagetype {packagetype!r} is not a string")
    row = {
        "filename": filename,
        "packagetype": packagetype,
        "python_version": text_value(f.get("python_version"), where, "python_version"),
        "requires_python": text_value(f.get("requires_python"), where, "requires_python"),
        "size": size,
        "md5_digest": _digest(digests.get("md5") or f.get("md5_digest"), 32, where, "md5", False),
        "sha256_digest": _digest(digests.get("sha256"), 64, where, "sha256", True),
        "blake2_256_digest": _digest(digests.get("blake2b_256"), 64, where, "blake2b_256", False),
        "upload_time": parse_upload_time(
            f.get("upload_time_iso_8601") or f.get("upload_time"), where
        ),
        "comment_text": text_value(f.get("comment_text"), where, "comment_text"),
        "url": url,
    }
    check_lengths(ReleaseFile.__table__, row, where)
    return row


def _yanked(files: list[Any], where: str) -> tuple[bool, str | None] | None:
    # Documents from before PEP 592 say nothing, which must not un-yank a release.
    flags = [f.get("yanked") for f in files if isinstance(f, dict) and "yanked" in f]
    if not flags:
        return None
    if not all(isinstance(flag, bool) for flag in flags):
        raise BadDocument(f"{where}: yanked is not true or false")
    # PyPI yanks whole releases; a release is yanked when all its files are.
    if not all(flags):
        return (False, None)
    reasons = [text_value(f.get("yanked_reason"), where, "yanked_reason") for f in files]
    return (True, next((r for r in reasons if r), None))


def project_from_document(document: Any) -> ProjectData:
    """Validate a JSON API document and convert it, touching no database.

    Error messages say where in the document the problem is, not which file
    the document came from: the caller knows that.
    """
    if not isinstance(document, dict) or not isinstance(document.get("info"), dict):
        raise BadDocument("not a PyPI JSON API document (no 'info' object)")
    info = document["info"]
    where = "info"
    name = info.get("name")
    if not isinstance(name, str) or not is_valid_name(name):
        raise BadDocument(f"{where}: invalid project name {name!r}")
    latest = info.get("version")
    if latest is not None:
        latest = check_version(latest, where)
    releases = document.get("releases")
    if not isinstance(releases, dict):
        raise BadDocument("'releases' is not an object of version -> files")

    fields: dict[str, Any] = {
        "name": name,
        "summary": text_value(info.get("summary"), where, "summary"),
        "description": text_value(info.get("description"), where, "description"),
        "description_content_type": text_value(
            info.get("description_content_type"), where, "description_content_type"
        ),
        "author": text_value(info.get("author"), where, "author"),
        "author_email": text_value(info.get("author_email"), where, "author_email"),
        "maintainer": text_value(info.get("maintainer"), where, "maintainer"),
        "maintainer_email": text_value(info.get("maintainer_email"), where, "maintainer_email"),
        "license": text_value(info.get("license"), where, "license"),
        "keywords": _keywords(info.get("keywords"), where),
        "homepage_url": text_value(info.get("home_page"), where, "home_page"),
        "project_urls": _project_urls(info, where),
        "requires_python": text_value(info.get("requires_python"), where, "requires_python"),
    }
    check_lengths(Package.__table__, fields, where)
    classifiers = _string_list(info.get("classifiers"), where, "classifiers") or []
    classifiers = sorted({c.strip() for c in classifiers if c.strip()})
    for classifier in classifiers:
        check_lengths(Classifier.__table__, {"classifier": classifier}, where)
    latest_metadata = {
        "summary": fields["summary"],
        "description": fields["description"],
        "description_content_type": fields["description_content_type"],
        "requires_python": fields["requires_python"],
        "requires_dist": _string_list(info.get("requires_dist"), where, "requires_dist"),
        # Metadata 2.2-2.4, in documents from indexes that serve them (pypi.org does).
        "license_expression": text_value(
            info.get("license_expression"), where, "license_expression"
        ),
        **{key: _string_list(info.get(key), where, key) for key in _METADATA_LISTS},
    }

    result: dict[str, ReleaseData] = {}
    for version, files in releases.items():
        at = f"release {version!r}"
        check_version(version, at)
        if not isinstance(files, list):
            raise BadDocument(f"{at}: its files are not a list")
        result[version] = ReleaseData(
            files=[file_row(f, at) for f in files], yanked=_yanked(files, at)
        )
    if latest is not None:
        if latest not in result:
            # Not listed under "releases": "urls" holds the latest release's files.
            urls = document.get("urls") or []
            if not isinstance(urls, list):
                raise BadDocument("'urls' is not a list of files")
            at = f"release {latest!r}"
            result[latest] = ReleaseData(
                files=[file_row(f, at) for f in urls], yanked=_yanked(urls, at)
            )
        result[latest].metadata = latest_metadata
        if info.get("yanked") is True:
            reason = text_value(info.get("yanked_reason"), where, "yanked_reason")
            result[latest].yanked = (True, reason)

    seen: dict[str, str] = {}
    for version, release in result.items():
        for row in release.files:
            other = seen.get(row["filename"])
            if other is not None:
                raise BadDocument(
                    f"file {row['filename']} is listed twice (under release {other!r} and "
                    f"under release {version!r}); a filename is unique on an index"
                )
            seen[row["filename"]] = version
    return ProjectData(name=name, fields=fields, classifiers=classifiers, releases=result)


def release_times(releases: dict[str, ReleaseData]) -> dict[str, datetime.datetime | None]:
    """When each release appeared: its first upload.

    A release without files (registered, never uploaded, or hosted elsewhere)
    has no time of its own; it came after the release before it in version
    order and before the one after it, so it gets the last upload of the
    nearest earlier release with files, capped by the first upload of the
    nearest later one (or just the one that exists; None when neither does).
    """
    ordered = sorted(releases, key=versions.sort_key)
    first = {v: min((f["upload_time"] for f in releases[v].files), default=None) for v in ordered}
    last = {v: max((f["upload_time"] for f in releases[v].files), default=None) for v in ordered}
    result: dict[str, datetime.datetime | None] = {}
    for i, version in enumerate(ordered):
        if first[version] is not None:
            result[version] = first[version]
            continue
        before = next((last[v] for v in reversed(ordered[:i]) if last[v]), None)
        after = next((first[v] for v in ordered[i + 1 :] if first[v]), None)
        candidates = [t for t in (before, after) if t is not None]
        result[version] = min(candidates) if candidates else None
    return result


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
_METADATA_LISTS = ("license_files", "provides_extra", "dynamic")
_RELEASE_METADATA = (
    "summary",
    "description",
    "description_content_type",
    "requires_python",
    "requires_dist",
    "license_expression",
    *_METADATA_LISTS,
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
        stored = {
            row.version: row
            for row in self.dbsession.execute(
                select(
                    Release.id,
                    Release.version,
                    Release.yanked,
                    Release.yanked_reason,
                    *(getattr(Release, c) for c in _RELEASE_METADATA),
                ).where(Release.package_id == package.id)
            )
        }
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
                        **(release.metadata or dict.fromkeys(_RELEASE_METADATA)),
                    }
                )
                continue
            if not authoritative:
                continue
            changes: dict[str, Any] = {}
            if release.metadata is not None:
                changes.update({k: v for k, v in release.metadata.items() if getattr(row, k) != v})
            if release.yanked is not None and (row.yanked, row.yanked_reason) != release.yanked:
                changes["yanked"], changes["yanked_reason"] = release.yanked
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
        stored = {
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
        self._refuse_foreign_files([n for n in incoming if n not in stored])

        new_rows, updates = [], []
        for filename, (version, row) in incoming.items():
            old = stored.get(filename)
            if old is None:
                new_rows.append({**row, "release_id": release_ids[version]})
                continue
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


class PypiJsonImporter(Importer):
    """Imports PyPI JSON API documents into one session; the caller commits."""

    def __init__(self, dbsession: Session, report: ImportReport | None = None):
        super().__init__(dbsession, report)
        # Project -> the file it was imported from in this run. Two documents
        # of one project would overwrite each other on every run, and a
        # second run would never be a no-op.
        self._imported_from: dict[str, str] = {}

    def import_paths(
        self, paths: Iterable[Path], progress: Callable[[Path], None] | None = None
    ) -> ImportReport:
        for path in paths:
            self.import_path(path)
            if progress is not None:
                progress(path)
        return self.report

    def import_path(self, path: Path) -> None:
        self.report.documents += 1
        try:
            with path.open("rb") as fh:
                document = json.load(fh)
        except OSError as exc:
            self.report.errors.append((str(path), f"cannot be read: {exc.strerror or exc}"))
            return
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.report.errors.append((str(path), f"not valid JSON: {exc}"))
            return
        with self.savepoint(str(path)):
            project = project_from_document(document)
            normalized = normalize(project.name)
            other = self._imported_from.get(normalized)
            if other is not None:
                raise BadDocument(
                    f"project {project.name} was already imported from {other} in this run"
                )
            self.store(project, authoritative=True)
            self._imported_from[normalized] = str(path)

    def import_document(self, document: Any) -> Package:
        return self.store(project_from_document(document), authoritative=True)


def json_documents(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())
