"""The data behind the simple repository API, in as few statements as possible.

The project list is one statement over ``packages`` (ordered by the unique
index on ``normalized_name``) returning plain rows, never ORM objects: an
index of 600,000 projects must not build 600,000 objects. A project page is
one statement for the package and one for all its releases left-joined to
their files.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pypi_web.files import download_url
from pypi_web.models import Package, Release, ReleaseFile

API_VERSION = "1.1"


def project_rows(dbsession: Session) -> list[tuple[str, str, int]]:
    """(name, normalized_name, last_serial) of every project, by normalized name.

    The rows are read straight from the DBAPI cursor: the columns need no
    type processing, and skipping SQLAlchemy's Row objects halves the time
    for a large index.
    """
    # The session's connection (its transaction), executing Core: a CursorResult.
    result = dbsession.connection().execute(
        select(Package.name, Package.normalized_name, Package.last_serial).order_by(
            Package.normalized_name
        )
    )
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def upload_time_iso(moment: datetime.datetime) -> str:
    """``2026-08-01T12:00:00.123456Z`` (UTC), as PEP 700 and PyPI write it."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class SimpleFile:
    filename: str
    url: str
    sha256: str
    requires_python: str | None
    size: int
    upload_time: datetime.datetime
    # False, or the reason (possibly "") the release was yanked.
    yanked: bool | str
    metadata_sha256: str | None

    @property
    def yanked_attr(self) -> str | None:
        """The ``data-yanked`` attribute: absent, empty, or the reason."""
        if self.yanked is False:
            return None
        return self.yanked if isinstance(self.yanked, str) else ""

    @property
    def core_metadata_attr(self) -> str | None:
        return f"sha256={self.metadata_sha256}" if self.metadata_sha256 else None

    def as_json(self) -> dict:
        data = {
            "filename": self.filename,
            "url": self.url,
            "hashes": {"sha256": self.sha256},
        }
        if self.requires_python:
            data["requires-python"] = self.requires_python
        data["size"] = self.size
        data["upload-time"] = upload_time_iso(self.upload_time)
        # A non-empty reason string, or a plain boolean (PEP 691).
        data["yanked"] = (self.yanked or True) if self.yanked is not False else False
        data["core-metadata"] = {"sha256": self.metadata_sha256} if self.metadata_sha256 else False
        return data


def project_files(
    request, dbsession: Session, package: Package
) -> tuple[list[str], list[SimpleFile]]:
    """(every version, oldest first; every file) of a package, in one statement."""
    rows = dbsession.execute(
        select(
            Release.version,
            Release.yanked,
            Release.yanked_reason,
            ReleaseFile.filename,
            ReleaseFile.url,
            ReleaseFile.path,
            ReleaseFile.sha256_digest,
            ReleaseFile.requires_python,
            ReleaseFile.size,
            ReleaseFile.upload_time,
            ReleaseFile.core_metadata_sha256_digest,
        )
        .select_from(Release)
        .outerjoin(ReleaseFile, ReleaseFile.release_id == Release.id)
        .where(Release.package_id == package.id)
        .order_by(Release.sort_order, ReleaseFile.filename)
    ).all()
    prefix = request.route_url("file", subpath="")
    versions: list[str] = []
    files: list[SimpleFile] = []
    for row in rows:
        if not versions or versions[-1] != row.version:
            versions.append(row.version)
        if row.filename is None:
            continue
        yanked: bool | str = False
        if row.yanked:
            yanked = row.yanked_reason or ""
        files.append(
            SimpleFile(
                filename=row.filename,
                url=download_url(prefix, row.url, row.path),
                sha256=row.sha256_digest,
                requires_python=row.requires_python,
                size=row.size,
                upload_time=row.upload_time,
                yanked=yanked,
                metadata_sha256=row.core_metadata_sha256_digest,
            )
        )
    return versions, files
