"""Per-project rules against dependency confusion, and PEP 708's declarations.

A name that exists here is a private project: an upstream's files of the
same name (a public twin, perhaps an attacker's) are never served beside its
own unless its owners say so. ``local-only`` is every project's default;
``upstream-only`` serves the upstream's page instead of this project's (a
name kept here only to hold it); ``both`` merges them, this index's files
winning a filename both have.
"""

from __future__ import annotations

from urllib.parse import urlsplit

LOCAL_ONLY = "local-only"
UPSTREAM_ONLY = "upstream-only"
BOTH = "both"
MODES = {
    LOCAL_ONLY: "This index's files only (the upstream's are never served for this name)",
    UPSTREAM_ONLY: "The upstream's files only (this project's own are not listed)",
    BOTH: "Both: this index's files and the upstream's, merged",
}
# PEP 708's keys need repository API version 1.2.
PEP_708_API_VERSION = "1.2"
MAX_URLS = 20
MAX_URL_LENGTH = 2000


class RuleError(ValueError):
    """A setting an owner cannot make; the message says why."""


def uses_upstream(upstreams, package) -> bool:
    """Whether this request's page of ``package`` (None: no such project here) asks upstream."""
    if package is None:
        return upstreams.enabled
    return upstreams.enabled and package.upstream_mode != LOCAL_ONLY


def parse_urls(text: str, what: str) -> list[str] | None:
    """One http(s) URL a line, as the manage page's text areas send them (None when empty)."""
    urls = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(urls) > MAX_URLS:
        raise RuleError(f"At most {MAX_URLS} {what} URLs.")
    for url in urls:
        parts = urlsplit(url)
        if len(url) > MAX_URL_LENGTH or parts.scheme not in ("http", "https") or not parts.netloc:
            raise RuleError(f"{url[:100]!r} is not an http or https URL ({what}).")
    return list(dict.fromkeys(urls)) or None


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise RuleError(f"{mode[:50]!r} is not one of {', '.join(MODES)}.")
    return mode
