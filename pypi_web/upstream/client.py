"""Talking to an upstream index over HTTP: its PEP 691 JSON pages and its files."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urldefrag, urljoin

V1_JSON = "application/vnd.pypi.simple.v1+json"
USER_AGENT = "pypi_web upstream proxy"
# A page bigger than this is refused (pypi.org's largest are a few MB).
MAX_PAGE_BYTES = 64 * 1024 * 1024
SERIAL_HEADER = "X-PyPI-Last-Serial"


class UpstreamError(Exception):
    """The upstream could not be asked, or answered with something that is not a page."""


@dataclass
class Fetched:
    """An upstream's answer for one project: 200 with its page, 304, or 404."""

    status: int
    url: str
    page: dict | None = None
    etag: str | None = None
    serial: int | None = None


def _serial(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _parse_page(url: str, body: bytes) -> dict:
    if len(body) > MAX_PAGE_BYTES:
        raise UpstreamError(f"{url}: the page is larger than {MAX_PAGE_BYTES} bytes")
    try:
        page = json.loads(body)
    except ValueError as error:
        raise UpstreamError(f"{url}: not a JSON page ({error})") from None
    if not isinstance(page, dict) or not isinstance(page.get("files"), list):
        raise UpstreamError(f"{url}: not a PEP 691 project page (no list of files)")
    api_version = str((page.get("meta") or {}).get("api-version", ""))
    if not api_version.startswith("1."):
        raise UpstreamError(f"{url}: API version {api_version!r} is not 1.x")
    return page


def fetch_page(index_url: str, name: str, etag: str | None, timeout: float) -> Fetched:
    """The upstream's JSON page of ``name`` (its normalized name)."""
    url = urljoin(index_url, f"{name}/")
    headers = {"Accept": V1_JSON, "User-Agent": USER_AGENT}
    if etag:
        headers["If-None-Match"] = etag
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_PAGE_BYTES + 1)
            return Fetched(
                status=200,
                url=response.url,
                page=_parse_page(url, body),
                etag=response.headers.get("ETag"),
                serial=_serial(response.headers.get(SERIAL_HEADER)),
            )
    except urllib.error.HTTPError as error:
        error.close()
        if error.code in (304, 404, 410):
            return Fetched(status=404 if error.code == 410 else error.code, url=url)
        raise UpstreamError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise UpstreamError(f"{url}: {reason}") from None


def file_url(page_url: str, href: str) -> str:
    """A file's absolute URL (pages may give it relative to themselves), without its fragment."""
    return urldefrag(urljoin(page_url, href)).url


def open_file(url: str, timeout: float) -> BinaryIO:
    """A stream of the file's bytes; UpstreamError when it cannot be had."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        raise UpstreamError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise UpstreamError(f"{url}: {reason}") from None


def json_api_url(index_url: str, name: str) -> str:
    """Where an index like pypi.org keeps a project's JSON API (``/pypi/<name>/json``)
    beside its ``/simple/``."""
    return urljoin(index_url, f"../pypi/{name}/json")


def fetch_json_api(index_url: str, name: str, timeout: float) -> dict | None:
    """The project's ``info`` from the upstream's JSON API; None when it has none (or is away)."""
    request = urllib.request.Request(
        json_api_url(index_url, name),
        headers={"Accept": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.loads(response.read(MAX_PAGE_BYTES))
    except urllib.error.HTTPError as error:
        error.close()
        return None
    except (urllib.error.URLError, OSError, ValueError):
        return None
    info = data.get("info") if isinstance(data, dict) else None
    return info if isinstance(info, dict) else None
