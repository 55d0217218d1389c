"""The upstream cache: project pages kept and revalidated, files fetched, checked and stored."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pypi_web.files import METADATA_SUFFIX, FileStorage, storage_path
from pypi_web.models import UpstreamFile, UpstreamProject, utcnow

from . import Upstreams, client

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UpstreamUnavailable(Exception):
    """No upstream answered and nothing is cached to fall back on."""


class FileRefused(Exception):
    """The upstream's file does not match the hash its page gave: never served."""


@dataclass
class CachedPage:
    """A cached upstream page and how this request got it: fresh, revalidated, fetched or stale."""

    project: UpstreamProject
    state: str

    def age_seconds(self, now: datetime.datetime | None = None) -> int:
        return max(0, int(((now or utcnow()) - self.project.fetched_at).total_seconds()))


def cached_project(dbsession: Session, normalized: str) -> UpstreamProject | None:
    return dbsession.scalars(
        select(UpstreamProject).where(UpstreamProject.normalized_name == normalized)
    ).one_or_none()


def _ask_upstreams(upstreams: Upstreams, normalized: str, cached: UpstreamProject | None):
    """The first upstream's answer that is not 404 (None when all say 404)."""
    errors = []
    for index_url in upstreams.urls:
        etag = cached.etag if cached is not None and cached.upstream_url == index_url else None
        try:
            fetched = client.fetch_page(index_url, normalized, etag, upstreams.timeout_seconds)
        except client.UpstreamError as error:
            errors.append(str(error))
            continue
        if fetched.status != 404:
            return index_url, fetched
    if errors:
        raise client.UpstreamError("; ".join(errors))
    return None


def _store_page(dbsession: Session, normalized, index_url, fetched, cached) -> UpstreamProject:
    values = dict(
        upstream_url=index_url,
        page_url=fetched.url,
        page=fetched.page,
        etag=fetched.etag,
        serial=fetched.serial,
        fetched_at=utcnow(),
        last_error=None,
        last_error_at=None,
    )
    if cached is None:
        # Two first requests at once: the unique name lets one insert; the other updates.
        try:
            with dbsession.begin_nested():
                cached = UpstreamProject(normalized_name=normalized, **values)
                dbsession.add(cached)
            return cached
        except IntegrityError:
            cached = cached_project(dbsession, normalized)
    for key, value in values.items():
        setattr(cached, key, value)
    return cached


def project_page(dbsession: Session, upstreams: Upstreams, normalized: str) -> CachedPage | None:
    """The upstream page of ``normalized``, revalidated once older than the TTL.

    None when no upstream has it. While the upstreams fail, a cached page is
    served as it is (stale-if-error), the failure recorded on it; with none
    cached, UpstreamUnavailable.
    """
    cached = cached_project(dbsession, normalized)
    now = utcnow()
    if cached is not None and (now - cached.fetched_at).total_seconds() < upstreams.ttl_seconds:
        return CachedPage(cached, "fresh")
    try:
        answer = _ask_upstreams(upstreams, normalized, cached)
    except client.UpstreamError as error:
        if cached is None:
            raise UpstreamUnavailable(str(error)) from None
        cached.last_error, cached.last_error_at = str(error), now
        return CachedPage(cached, "stale")
    if answer is None:
        return None
    index_url, fetched = answer
    if fetched.status == 304 and cached is not None:
        cached.fetched_at, cached.last_error, cached.last_error_at = now, None, None
        return CachedPage(cached, "revalidated")
    if fetched.page is None:  # a 304 to a request that sent no ETag
        raise UpstreamUnavailable(f"{fetched.url}: HTTP 304 to an unconditional request")
    return CachedPage(_store_page(dbsession, normalized, index_url, fetched, cached), "fetched")


def usable_filename(filename) -> bool:
    return (
        isinstance(filename, str)
        and 0 < len(filename) <= 255
        and "/" not in filename
        and "\\" not in filename
        and not filename.startswith(".")
    )


def file_sha256(entry: dict) -> str | None:
    """The sha256 an upstream page gives for a file; files without one are not offered."""
    digest = (entry.get("hashes") or {}).get("sha256")
    return digest.lower() if isinstance(digest, str) and SHA256.match(digest.lower()) else None


def metadata_sha256(entry: dict) -> str | None:
    """The sha256 of the file's PEP 658 metadata, when the upstream gives one."""
    metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
    if isinstance(metadata, dict):
        return file_sha256({"hashes": metadata})
    return None


def old_enough(entry: dict, cooldown_days: float, now: datetime.datetime | None = None) -> bool:
    """Whether a file is past the cooldown; with one set, a file of unknown age is not."""
    if not cooldown_days:
        return True
    try:
        uploaded = datetime.datetime.fromisoformat(str(entry["upload-time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return False
    if uploaded.tzinfo is None:
        uploaded = uploaded.replace(tzinfo=datetime.UTC)
    return (now or utcnow()) - uploaded >= datetime.timedelta(days=cooldown_days)


def offered(entry, cooldown_days: float) -> bool:
    """Whether this index offers a file of an upstream page: named safely, with a sha256 to
    check it against, past the cooldown (the simple pages and the prefetch list these)."""
    return (
        isinstance(entry, dict)
        and usable_filename(entry.get("filename"))
        and file_sha256(entry) is not None
        and old_enough(entry, cooldown_days)
    )


def _page_entry(
    project: UpstreamProject, filename: str, cooldown_days: float
) -> tuple[str, str] | None:
    """(upstream URL, expected sha256) of a file or of its metadata, from the cached page."""
    is_metadata = filename.endswith(METADATA_SUFFIX)
    base = filename.removesuffix(METADATA_SUFFIX)
    for entry in project.page.get("files", ()):
        if not isinstance(entry, dict) or entry.get("filename") != base:
            continue
        if not old_enough(entry, cooldown_days):
            return None
        expected = metadata_sha256(entry) if is_metadata else file_sha256(entry)
        if expected is None or not isinstance(entry.get("url"), str):
            return None
        url = client.file_url(project.page_url, entry["url"])
        return (url + METADATA_SUFFIX if is_metadata else url), expected
    return None


def _fetch_and_check(storage, upstreams, project, filename, url, expected) -> UpstreamFile:
    stream = client.open_file(url, upstreams.timeout_seconds)
    try:
        received = storage.receive(stream, upstreams.max_file_bytes)
    finally:
        stream.close()
    if received.sha256 != expected:
        received.discard()
        raise FileRefused(
            f"{filename}: the upstream sent a file whose sha256 is {received.sha256}, "
            f"but its index page says {expected}. The file is not served."
        )
    relative = storage_path(expected, filename)
    storage.store(received, relative)
    return UpstreamFile(
        project_id=project.id,
        filename=filename,
        sha256_digest=expected,
        size=received.size,
        path=relative,
    )


def mirrored_file(
    dbsession: Session, storage: FileStorage, upstreams: Upstreams, normalized: str, filename: str
) -> str | None:
    """The stored path of an upstream file, fetched and checked on its first request.

    None when the cached page has no such file (or none with a sha256 to check).
    """
    project = cached_project(dbsession, normalized)
    if project is None or not usable_filename(filename):
        return None
    entry = _page_entry(project, filename, upstreams.cooldown_days)
    if entry is None:
        return None
    url, expected = entry
    relative = storage_path(expected, filename)
    if storage.full_path(relative) is not None:
        return relative
    try:
        stored = _fetch_and_check(storage, upstreams, project, filename, url, expected)
    except client.UpstreamError as error:
        raise UpstreamUnavailable(str(error)) from None
    existing = dbsession.scalars(
        select(UpstreamFile).where(UpstreamFile.filename == filename)
    ).one_or_none()
    if existing is None:
        try:
            with dbsession.begin_nested():
                dbsession.add(stored)
        except IntegrityError:
            pass  # fetched at the same moment by another request: the same bytes
    else:
        existing.sha256_digest, existing.size, existing.path = expected, stored.size, relative
    return relative


def _iso(moment: datetime.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def cache_report(dbsession: Session, upstreams: Upstreams) -> dict:
    """Per upstream: the projects cached and those whose last revalidation failed; the
    files stored and their bytes (for operators: /_status/upstream)."""
    from sqlalchemy import func

    per_upstream = {
        row.upstream_url: row
        for row in dbsession.execute(
            select(
                UpstreamProject.upstream_url,
                func.count().label("projects"),
                func.count(UpstreamProject.last_error).label("failing"),
                func.max(UpstreamProject.last_error_at).label("last_error_at"),
                func.min(UpstreamProject.fetched_at).label("oldest"),
            ).group_by(UpstreamProject.upstream_url)
        )
    }
    files, size = dbsession.execute(
        select(func.count(UpstreamFile.id), func.coalesce(func.sum(UpstreamFile.size), 0))
    ).one()
    report = []
    for url in upstreams.urls:
        row = per_upstream.get(url)
        report.append(
            {
                "url": url,
                "projects_cached": row.projects if row else 0,
                "projects_failing_revalidation": row.failing if row else 0,
                "last_error_at": _iso(row.last_error_at) if row else None,
                "oldest_confirmation": _iso(row.oldest) if row else None,
            }
        )
    return {
        "enabled": upstreams.enabled,
        "ttl_seconds": upstreams.ttl_seconds,
        "upstreams": report,
        "files_cached": files,
        "bytes_cached": int(size),
    }
