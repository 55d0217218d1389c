"""An upstream's cached page as this index serves it: its file URLs pointing here.

Everything else on a file's entry is kept as the upstream gave it: PEP 700's
``size`` and ``upload-time``, ``requires-python``, ``yanked`` and its reason,
PEP 658/714 ``core-metadata`` (served here too, checked like the file).
Files the upstream gives no sha256 for are left out: they could not be checked.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from pyramid.renderers import render

from pypi_web.cache.middleware import COPY_ENVIRON
from pypi_web.cache.store import UpstreamCopy
from pypi_web.packaging import status
from pypi_web.simple import services as simple_services

from . import rules, services

# Served with every upstream page: where it came from and how old it is (RFC 9111 Age).
UPSTREAM_HEADER = "X-PyPI-Web-Upstream"
STATE_HEADER = "X-PyPI-Web-Upstream-State"


@dataclass
class MirroredLink:
    """A file entry for the HTML template (the attributes simple/detail.pt reads)."""

    filename: str
    url: str
    sha256: str
    requires_python: str | None
    yanked: bool | str
    metadata_sha256: str | None

    @property
    def yanked_attr(self) -> str | None:
        if self.yanked is False or self.yanked is None:
            return None
        return self.yanked if isinstance(self.yanked, str) else ""

    @property
    def core_metadata_attr(self) -> str | None:
        return f"sha256={self.metadata_sha256}" if self.metadata_sha256 else None


def mirrored_entries(request, normalized: str, page: dict) -> list[dict]:
    """The page's file entries with a checkable sha256, each URL pointing to /mirror/."""
    entries = []
    for entry in page.get("files", ()):
        if not services.offered(entry, request.upstreams.cooldown_days):
            continue
        mirrored = {k: v for k, v in entry.items() if k != "dist-info-metadata"}
        mirrored["url"] = request.route_url(
            "upstream_file", name=normalized, filename=entry["filename"]
        )
        metadata = services.metadata_sha256(entry)
        # Metadata without a hash could not be checked: not offered.
        mirrored["core-metadata"] = {"sha256": metadata} if metadata else False
        entries.append(mirrored)
    return entries


def _api_version(page: dict) -> str:
    # 1.1 (PEP 700) needs "versions" and every file's "size"; an older upstream's page stays 1.0.
    files = page.get("files", ())
    has_pep_700 = isinstance(page.get("versions"), list) and all("size" in f for f in files)
    return "1.1" if has_pep_700 else "1.0"


def declares_pep_708(package) -> bool:
    return package is not None and bool(package.tracks or package.alternate_locations)


def has_status(package) -> bool:
    return package is not None and package.status != status.ACTIVE


def declared_api_version(package, base: str) -> str:
    """PEP 792's 1.4 for a project with a status, PEP 708's 1.2 for one declaring its keys."""
    if has_status(package):
        return status.PEP_792_API_VERSION
    if declares_pep_708(package):
        return rules.PEP_708_API_VERSION
    return base


def add_declarations(data: dict, package) -> dict:
    """A JSON page with what the project declares: PEP 708's ``meta.tracks`` and
    ``alternate-locations``, PEP 792's ``project-status``."""
    if package is not None and package.tracks:
        data["meta"]["tracks"] = package.tracks
    if package is not None and package.alternate_locations:
        data["alternate-locations"] = package.alternate_locations
    if has_status(package):
        data["project-status"] = {"status": package.status}
        if package.status_reason:
            data["project-status"]["reason"] = package.status_reason
    return data


def html_declarations(package) -> dict:
    """The same for the HTML template (its meta tags)."""
    return {
        "tracks": (package.tracks if package is not None else None) or [],
        "alternate_locations": (package.alternate_locations if package is not None else None) or [],
        "project_status": package.status if has_status(package) else None,
        "project_status_reason": package.status_reason if has_status(package) else None,
    }


@dataclass
class MergedPage:
    api_version: str
    versions: list[str] | None
    entries: list[dict]


def merged_page(request, normalized: str, cached: services.CachedPage, package) -> MergedPage:
    """The upstream's files; with a local project set to ``both``, its own first (they win)."""
    page = cached.project.page
    api_version = _api_version(page)
    versions = page["versions"] if api_version == "1.1" else None
    entries = mirrored_entries(request, normalized, page)
    if package is not None and package.upstream_mode == rules.BOTH:
        local_versions, local_files = simple_services.project_files(
            request, request.dbsession, package
        )
        local = [f.as_json() for f in local_files]
        names = {entry["filename"] for entry in local}
        entries = local + [entry for entry in entries if entry["filename"] not in names]
        if versions is not None:
            versions = list(dict.fromkeys([*local_versions, *versions]))
    if status.files_hidden(package):
        entries = []
    if api_version == "1.1":
        api_version = declared_api_version(package, api_version)
    return MergedPage(api_version, versions, entries)


def json_body(request, normalized: str, cached: services.CachedPage, package) -> str:
    merged = merged_page(request, normalized, cached, package)
    data = {"meta": {"api-version": merged.api_version}, "name": normalized}
    if cached.project.serial is not None:
        data["meta"]["_last-serial"] = cached.project.serial
    data["files"] = merged.entries
    if merged.versions is not None:
        data["versions"] = merged.versions
    add_declarations(data, package)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def html_body(request, normalized: str, cached: services.CachedPage, package) -> str:
    merged = merged_page(request, normalized, cached, package)
    links = [
        MirroredLink(
            filename=entry["filename"],
            url=entry["url"],
            sha256=entry["hashes"]["sha256"],
            requires_python=entry.get("requires-python"),
            yanked=entry.get("yanked", False),
            metadata_sha256=(entry.get("core-metadata") or {}).get("sha256"),
        )
        for entry in merged.entries
    ]
    return render(
        "pypi_web:templates/simple/detail.pt",
        {
            "api_version": merged.api_version,
            "name": normalized,
            "links": simple_services.file_links_html(links),
            "serial": cached.project.serial or 0,
            **html_declarations(package),
        },
        request=request,
    )


def etag(request, cached: services.CachedPage, package, kind: str) -> str:
    """What the page is made of: the upstream's copy (its ETag, or when it was fetched
    when it sent none), its serial, the local project's serial, the representation."""
    project = cached.project
    parts = [
        project.upstream_url,
        project.etag or project.fetched_at.isoformat(),
        str(project.serial),
        str(package.last_serial) if package is not None else "-",
    ]
    if request.upstreams.cooldown_days:
        # Files come out of the cooldown as time passes: the page may change hourly.
        parts.append(str(int(time.time() // 3600)))
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]
    return f"up-{digest}-{kind}"


def headers(cached: services.CachedPage, etag: str) -> dict[str, str]:
    return {
        "Age": str(cached.age_seconds()),
        "ETag": f'"{etag}"',
        "Cache-Control": "max-age=0, must-revalidate, public",
        "Vary": "Accept",
        "Access-Control-Allow-Origin": "*",
        UPSTREAM_HEADER: cached.project.upstream_url,
        STATE_HEADER: cached.state,
    }


def keep_copy(request, cached: services.CachedPage) -> None:
    """Let the page cache keep this page until the upstream copy behind it goes stale.

    A copy served stale (the upstream failing) is not kept: the next request
    tries the upstream again. Served again from the cache, the page is fresh.
    """
    if cached.state == "stale":
        return
    fresh_for = request.upstreams.ttl_seconds - cached.age_seconds()
    request.environ[COPY_ENVIRON] = UpstreamCopy(
        fetched_at=cached.project.fetched_at.timestamp(),
        fresh_for=fresh_for,
        on_hit=((STATE_HEADER, "fresh"),),
    )
