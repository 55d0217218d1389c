"""Version strings as published: PEP 440 where they can be, legacy where not.

Legacy versions (not valid PEP 440) are kept exactly as published and sort
below every PEP 440 version, the order pip's old LegacyVersion gave them.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.version import InvalidVersion, Version


def parse(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def canonical_version(version: str) -> str:
    """PEP 440 normal form ("1.0.0a1" for "1.0.0-alpha1"), or the string itself."""
    parsed = parse(version)
    return str(parsed) if parsed is not None else version


def is_prerelease(version: str) -> bool:
    parsed = parse(version)
    return parsed.is_prerelease if parsed is not None else False


def sort_key(version: str) -> tuple:
    parsed = parse(version)
    if parsed is None:
        return (0, version)
    return (1, parsed)


def sort_orders(versions: Iterable[str]) -> dict[str, int]:
    """Each version's position in the history, 0 being the oldest."""
    return {v: i for i, v in enumerate(sorted(set(versions), key=sort_key))}
