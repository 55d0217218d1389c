"""HTTP caching shared by the simple API and the JSON API.

Every page about a project is a function of the project's serial (its
``last_serial``: the id of its newest journal entry), and the project list
of the index-wide serial. So the serial is the ETag, the journal entry's
time is Last-Modified, and a client that already has that serial gets a
304 before any page is built.
"""

from __future__ import annotations

import datetime
from email.utils import format_datetime

from pyramid.httpexceptions import HTTPNotModified
from sqlalchemy import select
from sqlalchemy.orm import Session

from pypi_web.models import JournalEntry, Package

SERIAL_HEADER = "X-PyPI-Last-Serial"
# Revalidate every time: a fresh upload shows at once, and an unchanged page
# costs one indexed query and a 304.
CACHE_CONTROL = "max-age=0, must-revalidate, public"


def index_serial(dbsession: Session) -> tuple[int, datetime.datetime | None]:
    """The newest serial on the whole index and when it was made."""
    row = dbsession.execute(
        select(JournalEntry.id, JournalEntry.submitted_at).order_by(JournalEntry.id.desc()).limit(1)
    ).first()
    return (row.id, row.submitted_at) if row is not None else (0, None)


def package_serial_time(dbsession: Session, package: Package) -> datetime.datetime | None:
    return dbsession.scalar(
        select(JournalEntry.submitted_at).where(JournalEntry.id == package.last_serial)
    )


def _http_time(moment: datetime.datetime | None) -> datetime.datetime | None:
    return moment.replace(microsecond=0) if moment is not None else None


def cache_headers(
    serial: int, etag: str, last_modified: datetime.datetime | None, vary: str | None = None
) -> dict[str, str]:
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": CACHE_CONTROL,
        SERIAL_HEADER: str(serial),
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": SERIAL_HEADER,
    }
    if vary:
        headers["Vary"] = vary
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(
            _http_time(last_modified).astimezone(datetime.UTC), usegmt=True
        )
    return headers


def not_modified(
    request, etag: str, last_modified: datetime.datetime | None, headers: dict[str, str]
) -> HTTPNotModified | None:
    """A 304 when the client's copy is current, else None.

    If-None-Match wins over If-Modified-Since when both are sent (RFC 9110
    13.2.2): two changes within one second share a Last-Modified, not an ETag.
    """
    if request.method not in ("GET", "HEAD"):
        return None
    if request.headers.get("If-None-Match"):
        current = etag in request.if_none_match
    elif request.if_modified_since is not None and last_modified is not None:
        current = _http_time(last_modified) <= request.if_modified_since
    else:
        current = False
    if not current:
        return None
    response = HTTPNotModified()
    response.headers.update(headers)
    return response
