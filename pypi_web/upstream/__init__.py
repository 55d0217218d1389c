"""Upstream indexes behind this one: their projects served and their files cached here.

``pypi_web.upstreams`` names one or more PEP 691 indexes (their ``/simple/``
URLs, in the order they are asked). A project with no files here is then
served from the first upstream that has it: its page is fetched as JSON,
kept in the database with its ETag and serial (``UpstreamProject``),
revalidated once older than ``upstream.ttl_seconds``, and served from the
database while the upstream fails (stale-if-error). The page's file URLs
point here (``/mirror/<name>/<filename>``): a file is fetched on its first
request, checked against the sha256 the upstream's page gave, stored, and
served from storage ever after; a file that fails the check is never served.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyramid.settings import aslist

SETTING = "pypi_web.upstreams"
DEFAULT_TTL_SECONDS = 600
DEFAULT_TIMEOUT_SECONDS = 10
DEFAULT_MAX_FILE_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class Upstreams:
    """The configured upstream indexes and how the cache treats them."""

    urls: tuple[str, ...]
    ttl_seconds: float
    timeout_seconds: float
    max_file_bytes: int
    # Upstream files younger than this (by PEP 700 upload-time) are not offered; 0: all are.
    cooldown_days: float = 0

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    @classmethod
    def from_settings(cls, settings) -> Upstreams:
        urls = tuple(
            url if url.endswith("/") else url + "/" for url in aslist(settings.get(SETTING) or "")
        )
        return cls(
            urls=urls,
            ttl_seconds=float(settings.get("upstream.ttl_seconds", DEFAULT_TTL_SECONDS)),
            timeout_seconds=float(
                settings.get("upstream.timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
            ),
            max_file_bytes=int(settings.get("upstream.max_file_bytes", DEFAULT_MAX_FILE_BYTES)),
            cooldown_days=float(settings.get("upstream.cooldown_days", 0)),
        )


def includeme(config):
    upstreams = Upstreams.from_settings(config.get_settings())
    config.registry["upstreams"] = upstreams
    config.add_request_method(
        lambda request: request.registry["upstreams"], "upstreams", reify=True
    )
    config.add_route("upstream_file", "/mirror/{name}/{filename}")
    config.add_route("upstream_status", "/_status/upstream")
