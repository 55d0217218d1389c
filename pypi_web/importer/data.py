"""What an import source yields: the project data the store writes (validated with the
checks every source shares: lengths, text values, versions, release times) and the
report of a run."""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table

from pypi_web.models import (
    Release,
)
from pypi_web.packaging import versions


class BadDocument(ValueError):
    """A document that cannot be imported; the message says why."""


@dataclass
class ImportReport:
    documents: int = 0  # JSON documents read
    distributions: int = 0  # installed distributions read
    packages_created: int = 0
    packages_updated: int = 0
    releases_created: int = 0
    releases_updated: int = 0
    files_created: int = 0
    files_updated: int = 0
    # (file name or distribution path, reason), one per source that was not imported
    errors: list[tuple[str, str]] = field(default_factory=list)
    # Packages created or updated so far, so that each is counted once per run.
    touched: set[int] = field(default_factory=set, repr=False)

    @property
    def changed(self) -> bool:
        return bool(
            self.packages_created
            or self.packages_updated
            or self.releases_created
            or self.releases_updated
            or self.files_created
            or self.files_updated
        )


@dataclass
class ReleaseData:
    """One release as a source describes it."""

    # ReleaseFile column values, without release_id.
    files: list[dict[str, Any]] = field(default_factory=list)
    # summary, description, requires_dist ... when the source describes this
    # release (the latest one of a JSON document); None when it says nothing.
    metadata: dict[str, Any] | None = None
    # (yanked, reason) when the source says; None leaves the stored state alone.
    yanked: tuple[bool, str | None] | None = None


@dataclass
class ProjectData:
    """A project as a source describes it, validated and ready to store."""

    name: str
    fields: dict[str, Any]  # Package column values
    classifiers: list[str]
    releases: dict[str, ReleaseData]

    @property
    def described_version(self) -> str | None:
        """The release the project's metadata describes (a JSON document's latest)."""
        return next((v for v, r in self.releases.items() if r.metadata is not None), None)


@functools.cache
def _limits(table: Table) -> dict[str, int]:
    return {c.name: c.type.length for c in table.c if getattr(c.type, "length", None)}


def check_lengths(table: Table, row: dict[str, Any], where: str) -> None:
    """Reject values their column cannot hold.

    SQLite ignores declared lengths and Postgres fails the whole statement, so
    both would otherwise behave differently and neither would say which value.
    """
    limits = _limits(table)
    for column, value in row.items():
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            raise BadDocument(f"{where}: {column} contains a NUL character")
        limit = limits.get(column)
        if limit is not None and len(value) > limit:
            raise BadDocument(f"{where}: {column} is longer than {limit} characters")


def text_value(value: Any, where: str = "", key: str = "") -> str | None:
    """Empty strings and "UNKNOWN" (setuptools' placeholder) mean nothing was given."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadDocument(f"{where}: {key} {value!r} is not a string")
    if value.strip() in ("", "UNKNOWN"):
        return None
    return value


def check_version(version: Any, where: str) -> str:
    if not isinstance(version, str) or not version.strip():
        raise BadDocument(f"{where}: invalid version {version!r}")
    if version != version.strip() or "/" in version or any(ord(c) < 32 for c in version):
        # Such a version could not be addressed as /project/<name>/<version>/.
        raise BadDocument(f"{where}: invalid version {version!r}")
    check_lengths(Release.__table__, {"version": version}, where)
    return version


def release_times(releases: dict[str, ReleaseData]) -> dict[str, datetime.datetime | None]:
    """When each release appeared: its first upload.

    A release without files (registered, never uploaded, or hosted elsewhere)
    has no time of its own; it came after the release before it in version
    order and before the one after it, so it gets the last upload of the
    nearest earlier release with files, capped by the first upload of the
    nearest later one (or just the one that exists; None when neither does).
    """
    ordered = sorted(releases, key=versions.sort_key)
    first = {v: min((f["upload_time"] for f in releases[v].files), default=None) for v in ordered}
    last = {v: max((f["upload_time"] for f in releases[v].files), default=None) for v in ordered}
    result: dict[str, datetime.datetime | None] = {}
    for i, version in enumerate(ordered):
        if first[version] is not None:
            result[version] = first[version]
            continue
        before = next((last[v] for v in reversed(ordered[:i]) if last[v]), None)
        after = next((first[v] for v in ordered[i + 1 :] if first[v]), None)
        candidates = [t for t in (before, after) if t is not None]
        result[version] = min(candidates) if candidates else None
    return result


METADATA_LISTS = ("license_files", "provides_extra", "dynamic")


RELEASE_METADATA = (
    "summary",
    "description",
    "description_content_type",
    "requires_python",
    "requires_dist",
    "license_expression",
    *METADATA_LISTS,
)
