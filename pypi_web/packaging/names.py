"""Project names (PEP 503 / PEP 508)."""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name

# PEP 508's name grammar, as PyPI enforces it on upload.
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def normalize(name: str) -> str:
    return canonicalize_name(name)


def is_valid_name(name: str) -> bool:
    return bool(_VALID_NAME.match(name))
