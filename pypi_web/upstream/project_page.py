"""The site's page of a cached upstream project, marked as mirrored.

Its name, version, summary and description come from the upstream's JSON API
where it has one (pypi.org's ``/pypi/<name>/json``); otherwise, or while the
upstream is away, from the cached simple page (versions and files only). The
files link through this index (``/mirror/``), as the simple page does.
"""

from __future__ import annotations

from dataclasses import dataclass

from pypi_web.packaging.rendering import render_description

from . import client, pages, prefetch, services

# The page is rendered while the visitor waits: the JSON API is asked briefly.
JSON_API_TIMEOUT_SECONDS = 3


@dataclass
class MirroredFile:
    filename: str
    url: str
    sha256: str
    size: int | None
    requires_python: str | None
    yanked: bool


@dataclass
class MirroredProject:
    name: str
    normalized_name: str
    upstream_url: str
    version: str | None
    summary: str | None
    description_html: str | None
    from_json_api: bool
    versions: list[str]
    files: list[MirroredFile]
    # The cached simple page behind it (the page cache keeps this page while it is fresh).
    cached: services.CachedPage


def _latest_files(entries: list[dict]) -> tuple[str | None, list[str], list[dict]]:
    """(the latest version not yanked, every version newest first, the latest's entries)."""
    by_version: dict = {}
    for entry in entries:
        version = prefetch.file_version(entry["filename"])
        if version is not None:
            by_version.setdefault(version, []).append(entry)
    usable = [v for v, files in by_version.items() if not all(f.get("yanked") for f in files)]
    finals = [v for v in usable if not v.is_prerelease]
    latest = max(finals or usable) if usable else None
    versions = [str(v) for v in sorted(by_version, reverse=True)]
    return (str(latest) if latest else None), versions, by_version.get(latest, [])


def mirrored_project(request, normalized: str) -> MirroredProject | None:
    """The page's data for a cached upstream project; None when none is cached."""
    project = services.cached_project(request.dbsession, normalized)
    if project is None:
        return None
    entries = pages.mirrored_entries(request, normalized, project.page)
    latest, versions, files = _latest_files(entries)
    timeout = min(request.upstreams.timeout_seconds, JSON_API_TIMEOUT_SECONDS)
    info = client.fetch_json_api(project.upstream_url, normalized, timeout) or {}
    return MirroredProject(
        name=str(info.get("name") or project.page.get("name") or normalized),
        normalized_name=normalized,
        upstream_url=project.upstream_url,
        version=latest,
        summary=info.get("summary") or None,
        description_html=render_description(
            info.get("description"), info.get("description_content_type")
        ),
        from_json_api=bool(info),
        versions=versions,
        files=[
            MirroredFile(
                filename=entry["filename"],
                url=entry["url"],
                sha256=entry["hashes"]["sha256"],
                size=entry.get("size"),
                requires_python=entry.get("requires-python"),
                yanked=bool(entry.get("yanked")),
            )
            for entry in files
        ],
        cached=services.CachedPage(project, "cached"),
    )
