"""Import PyPI JSON API documents (the body of ``/pypi/<name>/json``).

Each document is imported inside a savepoint: a bad document is reported with
its file name and the reason and rolls back alone, the rest import, and the
caller commits once. Importing the same documents twice changes nothing.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from pypi_web.models import Classifier, Package, Release, ReleaseFile, package_classifiers
from pypi_web.packaging import versions
from pypi_web.packaging.names import is_valid_name, normalize


class BadDocument(ValueError):
    """A document that cannot be imported; the message says why."""


@dataclass
class ImportReport:
    documents: int = 0
    packages_created: int = 0
    packages_updated: int = 0
    releases_created: int = 0
    files_created: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.packages_created
            or self.packages_updated
            or self.releases_created
            or self.files_created
        )


# Package columns filled from the document's "info", and the key each comes from.
_INFO_FIELDS = {
    "summary": "summary",
    "description": "description",
    "description_content_type": "description_content_type",
    "author": "author",
    "author_email": "author_email",
    "maintainer": "maintainer",
    "maintainer_email": "maintainer_email",
    "license": "license",
    "keywords": "keywords",
    "homepage_url": "home_page",
    "requires_python": "requires_python",
}


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


def _text(value: Any) -> str | None:
    """Empty strings and "UNKNOWN" (setuptools' placeholder) mean nothing was given."""
    if value is None:
        return None
    value = str(value)
    if value.strip() in ("", "UNKNOWN"):
        return None
    return value


def _project_urls(info: dict) -> dict[str, str] | None:
    urls = info.get("project_urls")
    result: dict[str, str] = {}
    if isinstance(urls, dict):
        result.update({str(k): str(v) for k, v in urls.items() if v})
    for key, label in (
        ("docs_url", "Documentation"),
        ("bugtrack_url", "Bug Tracker"),
        ("download_url", "Download"),
    ):
        value = _text(info.get(key))
        if value and label not in result:
            result[label] = value
    return result or None


def _file_row(release_id: int, f: Any, where: str) -> dict[str, Any]:
    if not isinstance(f, dict):
        raise BadDocument(f"{where}: a file entry is not an object")
    filename = f.get("filename")
    if not isinstance(filename, str) or not filename or "/" in filename:
        raise BadDocument(f"{where}: file without a valid filename")
    where = f"{where} file {filename}"
    digests = f.get("digests") or {}
    sha256 = digests.get("sha256")
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise BadDocument(f"{where}: missing or malformed sha256 digest")
    size = f.get("size")
    if not isinstance(size, int) or size < 0:
        raise BadDocument(f"{where}: size {size!r} is not a byte count")
    url = f.get("url")
    if not isinstance(url, str) or not url:
        raise BadDocument(f"{where}: no download URL")
    return {
        "release_id": release_id,
        "filename": filename,
        "packagetype": str(f.get("packagetype") or "sdist"),
        "python_version": _text(f.get("python_version")),
        "requires_python": _text(f.get("requires_python")),
        "size": size,
        "md5_digest": digests.get("md5") or f.get("md5_digest") or None,
        "sha256_digest": sha256.lower(),
        "blake2_256_digest": digests.get("blake2b_256") or None,
        "upload_time": parse_upload_time(
            f.get("upload_time_iso_8601") or f.get("upload_time"), where
        ),
        "comment_text": _text(f.get("comment_text")),
        "url": url,
    }


class PypiJsonImporter:
    """Imports documents into one session; the caller commits."""

    def __init__(self, dbsession: Session):
        self.dbsession = dbsession
        self.report = ImportReport()
        self._classifier_ids: dict[str, int] = dict(
            dbsession.execute(select(Classifier.classifier, Classifier.id)).all()
        )

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
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.report.errors.append((str(path), f"not a readable JSON document: {exc}"))
            return
        savepoint = self.dbsession.begin_nested()
        try:
            self.import_document(document, source=path.name)
        except BadDocument as exc:
            savepoint.rollback()
            self.report.errors.append((str(path), str(exc)))
        else:
            savepoint.commit()

    def import_document(self, document: Any, source: str = "<document>") -> Package:
        if not isinstance(document, dict) or not isinstance(document.get("info"), dict):
            raise BadDocument(f"{source}: not a PyPI JSON API document (no 'info' object)")
        info = document["info"]
        name = info.get("name")
        if not isinstance(name, str) or not is_valid_name(name):
            raise BadDocument(f"{source}: invalid project name {name!r}")
        releases = document.get("releases")
        if not isinstance(releases, dict):
            raise BadDocument(f"{source}: 'releases' is not an object of version -> files")

        # Validate and convert everything before touching the database.
        release_files: dict[str, list[dict[str, Any]]] = {}
        for version, files in releases.items():
            if not isinstance(version, str) or not version.strip() or len(version) > 100:
                raise BadDocument(f"{source}: invalid version {version!r}")
            if not isinstance(files, list):
                raise BadDocument(f"{source} {version}: files is not a list")
            release_files[version] = [_file_row(0, f, f"{source} {version}") for f in files]

        package = self._upsert_package(info, release_files)
        self._import_releases(package, info, release_files)
        self._link_classifiers(package, info.get("classifiers") or [], source)
        return package

    def _upsert_package(self, info: dict, release_files: dict[str, list[dict]]) -> Package:
        normalized = normalize(info["name"])
        values: dict[str, Any] = {col: _text(info.get(key)) for col, key in _INFO_FIELDS.items()}
        values["name"] = info["name"]
        values["project_urls"] = _project_urls(info)
        upload_times = [f["upload_time"] for files in release_files.values() for f in files]

        package = self.dbsession.scalars(
            select(Package).where(Package.normalized_name == normalized)
        ).one_or_none()
        if package is None:
            package = Package(normalized_name=normalized, **values)
            if upload_times:
                package.created = min(upload_times)
            self.dbsession.add(package)
            self.dbsession.flush()
            self.report.packages_created += 1
            return package
        changed = False
        for column, value in values.items():
            if getattr(package, column) != value:
                setattr(package, column, value)
                changed = True
        if changed:
            self.report.packages_updated += 1
            self.dbsession.flush()
        return package

    def _import_releases(
        self, package: Package, info: dict, release_files: dict[str, list[dict]]
    ) -> None:
        existing = dict(
            self.dbsession.execute(
                select(Release.version, Release.id).where(Release.package_id == package.id)
            ).all()
        )
        latest = info.get("version")
        requires_dist = info.get("requires_dist")
        if not isinstance(requires_dist, list):
            requires_dist = None
        fallback_time = min(
            (f["upload_time"] for files in release_files.values() for f in files),
            default=package.created,
        )
        new_rows = []
        for version, files in release_files.items():
            if version in existing:
                continue
            is_latest = version == latest
            new_rows.append(
                {
                    "package_id": package.id,
                    "version": version,
                    "canonical_version": versions.canonical_version(version),
                    "is_prerelease": versions.is_prerelease(version),
                    "created": min((f["upload_time"] for f in files), default=fallback_time),
                    # The document describes its latest release only.
                    "summary": _text(info.get("summary")) if is_latest else None,
                    "requires_python": _text(info.get("requires_python")) if is_latest else None,
                    "requires_dist": requires_dist if is_latest else None,
                }
            )
        if new_rows:
            inserted = self.dbsession.execute(
                insert(Release).returning(Release.version, Release.id), new_rows
            ).all()
            existing.update(dict(inserted))
            self.report.releases_created += len(new_rows)
            self._renumber(package.id, existing)

        known_files = set(
            self.dbsession.scalars(
                select(ReleaseFile.filename).join(Release).where(Release.package_id == package.id)
            )
        )
        file_rows = []
        for version, files in release_files.items():
            for row in files:
                if row["filename"] in known_files:
                    continue
                known_files.add(row["filename"])
                file_rows.append({**row, "release_id": existing[version]})
        if file_rows:
            self.dbsession.execute(insert(ReleaseFile), file_rows)
            self.report.files_created += len(file_rows)

    def _renumber(self, package_id: int, release_ids: dict[str, int]) -> None:
        orders = versions.sort_orders(release_ids)
        self.dbsession.execute(
            update(Release),
            [{"id": release_ids[v], "sort_order": order} for v, order in orders.items()],
        )

    def _link_classifiers(self, package: Package, classifiers: list, source: str) -> None:
        wanted = {c.strip() for c in classifiers if isinstance(c, str) and c.strip()}
        if any(len(c) > 255 for c in wanted):
            raise BadDocument(f"{source}: a classifier is longer than 255 characters")
        missing = sorted(wanted - self._classifier_ids.keys())
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


def json_documents(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())
