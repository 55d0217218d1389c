"""Version strings as published: PEP 440 where they can be, legacy where not.

Legacy versions (not valid PEP 440, such as pytz's "2004d" or paramiko's
"0.9-doduo") are kept exactly as published and sort below every PEP 440
version, the order pip's old LegacyVersion gave them. Among themselves they
sort by their runs of digits (numerically) and letters (alphabetically).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

# A legacy version is compared run by run: "0.10d" -> 0, 10, "d".
_LEGACY_RUN = re.compile(r"\d+|[a-z]+")


def parse(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def is_legacy(version: str) -> bool:
    return parse(version) is None


def canonical_version(version: str) -> str:
    """PEP 440 normal form ("1.0.0a1" for "1.0.0-alpha1"), or the string itself."""
    parsed = parse(version)
    return str(parsed) if parsed is not None else version


def equality_key(version: str) -> str:
    """The same key for versions PEP 440 calls equal ("2.0", "2.0.0", "v2.0");
    a legacy version is equal only to itself."""
    parsed = parse(version)
    return canonicalize_version(parsed) if parsed is not None else version


def is_prerelease(version: str) -> bool:
    parsed = parse(version)
    return parsed.is_prerelease if parsed is not None else False


def _legacy_key(version: str) -> tuple[tuple[int, int | str], ...]:
    # Numbers sort above words at the same position, so "1.0b" < "1.0.1";
    # the tags keep ints and strs from ever being compared with each other.
    return tuple(
        (1, int(run)) if run.isdigit() else (0, run) for run in _LEGACY_RUN.findall(version.lower())
    )


def sort_key(version: str) -> tuple:
    """Orders versions as pip does; the version string itself breaks ties
    ("0.12.01" and "0.12.1" are the same PEP 440 version) so that the order
    never depends on the order the versions came in."""
    parsed = parse(version)
    if parsed is None:
        return (0, _legacy_key(version), version)
    return (1, parsed, version)


def sort_orders(versions: Iterable[str]) -> dict[str, int]:
    """Each version's position in the history, 0 being the oldest."""
    return {v: i for i, v in enumerate(sorted(set(versions), key=sort_key))}
