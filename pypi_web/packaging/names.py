"""Project names (PEP 503 / PEP 508)."""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name

# Longer names cannot be stored (String(200)).
MAX_NAME_LENGTH = 200
# PEP 508's name grammar, as PyPI enforces it on upload.
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[._-]")
_CONFUSABLES = str.maketrans({"l": "1", "i": "1", "o": "0"})


def normalize(name: str) -> str:
    return canonicalize_name(name)


def ultranormalize(name: str) -> str:
    """PyPI's "ultranormalized" name: what a reader could mistake for the same project.

    Warehouse's ``ultranormalize_name()``: ".", "_" and "-" are dropped, and
    letters that look alike fold together (l, L, i, I -> "1"; o, O -> "0"),
    so "r-e-q-u-e-s-t-s", "urlIib3" and "S-I-X" meet "requests", "urllib3"
    and "six".
    """
    return _SEPARATORS.sub("", name).lower().translate(_CONFUSABLES)


def is_valid_name(name: str) -> bool:
    return bool(_VALID_NAME.match(name))
