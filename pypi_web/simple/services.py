"""The data behind the simple repository API, in as few statements as possible.

The project list is one statement over ``packages`` (ordered by the unique
index on ``normalized_name``) returning plain rows, never ORM objects: an
index of 600,000 projects must not build 600,000 objects. A project page is
one statement for the package and one for all its releases left-joined to
their files.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from json.encoder import encode_basestring  # the C encoder, one string at a time

from sqlalchemy import select
from sqlalchemy.orm import Session

from pypi_web.files import download_url
from pypi_web.models import Package, Release, ReleaseFile
from pypi_web.templating import escape_attribute, escape_text

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
    # isoformat ends "+00:00" in UTC; it takes a third less time than strftime.
    return moment.astimezone(datetime.UTC).isoformat(timespec="microseconds")[:-6] + "Z"


@dataclass(slots=True)
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


def files_json(files: list[SimpleFile]) -> str:
    """``[f.as_json() for f in files]`` as json.dumps(ensure_ascii=False) writes it, made
    as text: for thousands of files, a third of the time of building and encoding dicts."""
    parts = []
    for file in files:
        text = (
            f'{{"filename":{encode_basestring(file.filename)},"url":{encode_basestring(file.url)},'
            f'"hashes":{{"sha256":{encode_basestring(file.sha256)}}}'
        )
        if file.requires_python:
            text += f',"requires-python":{encode_basestring(file.requires_python)}'
        yanked = "false" if file.yanked is False else "true"
        if file.yanked is not False and file.yanked:
            yanked = encode_basestring(file.yanked)
        metadata = "false"
        if file.metadata_sha256:
            metadata = f'{{"sha256":{encode_basestring(file.metadata_sha256)}}}'
        parts.append(
            f'{text},"size":{int(file.size)},"upload-time":"{upload_time_iso(file.upload_time)}",'
            f'"yanked":{yanked},"core-metadata":{metadata}}}'
        )
    return "[" + ",".join(parts) + "]"


def _files_statement(package_id: int):
    """A package's releases, oldest first, left-joined to their files."""
    return (
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
        .where(Release.package_id == package_id)
        .order_by(Release.sort_order, ReleaseFile.filename)
    )


def project_files(
    request, dbsession: Session, package: Package
) -> tuple[list[str], list[SimpleFile]]:
    """(every version, oldest first; every file) of a package, in one statement.

    Run as Core on the session's connection, and the rows unpacked by position:
    for a project of thousands of files the ORM's row handling was a third of
    the page's time.
    """
    rows = dbsession.connection().execute(_files_statement(package.id)).all()
    prefix = request.route_url("file", subpath="")
    versions: list[str] = []
    files: list[SimpleFile] = []
    for row in rows:
        version, yanked, reason, filename, url, path, *rest = row
        if not versions or versions[-1] != version:
            versions.append(version)
        if filename is None:
            continue
        sha256, requires_python, size, upload_time, metadata_sha256 = rest
        files.append(
            SimpleFile(
                filename,
                download_url(prefix, url, path),
                sha256,
                requires_python,
                size,
                upload_time,
                (reason or "") if yanked else False,
                metadata_sha256,
            )
        )
    return versions, files


def file_links_html(files) -> str:
    """The page's anchors, one a line, as simple/detail.pt once made them in a loop.

    Built here rather than by the template (pypi_web.templating says why). ``files``
    are SimpleFile (or anything with the same attributes: an upstream's links).
    """
    lines = []
    # A few distinct values over thousands of files (">=3.8"): each escaped once.
    escaped = functools.cache(escape_attribute)
    for file in files:
        extra = ""
        if file.requires_python is not None:
            extra = f' data-requires-python="{escaped(file.requires_python)}"'
        if (yanked := file.yanked_attr) is not None:
            extra += f' data-yanked="{escaped(yanked)}"'
        if (metadata := file.core_metadata_attr) is not None:
            metadata = escape_attribute(metadata)
            extra += f' data-dist-info-metadata="{metadata}" data-core-metadata="{metadata}"'
        href = f"{escape_attribute(file.url)}#sha256={escape_attribute(file.sha256)}"
        lines.append(f'    <a href="{href}"{extra}>{escape_text(file.filename)}</a><br>\n')
    return "".join(lines)
