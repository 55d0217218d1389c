"""Fetching listed projects from the upstreams ahead of time, for installing offline.

Each requirement of a requirements file selects a project and the versions
whose files to fetch: those its specifier allows (yanked files only when it
pins a version, as pip does), or with no specifier the latest version. The
pages and files go through the proxy's own code (services.project_page and
services.mirrored_file): cached with the same rules, every file checked
against its sha256, its PEP 658 metadata too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from sqlalchemy.orm import Session

from pypi_web.files import METADATA_SUFFIX, FileStorage
from pypi_web.packaging.names import normalize
from pypi_web.packaging.services import package_by_normalized_name

from . import Upstreams, rules, services

COMMENT = re.compile(r"(^|\s)#.*$")


class RequirementsError(ValueError):
    """A requirements file that cannot be used; the message names the file and line."""


def read_requirements(path: Path) -> list[Requirement]:
    """One requirement a line (PEP 508); blank lines and ``#`` comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RequirementsError(f"{path}: cannot read it ({error})") from None
    requirements = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = COMMENT.sub("", raw).strip()
        if not line:
            continue
        where = f"{path}:{number}: {line[:200]!r}"
        if line.startswith("-"):
            raise RequirementsError(f"{where}: options are not supported; one requirement a line")
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise RequirementsError(f"{where} is not a valid requirement: {error}") from None
        if requirement.url:
            raise RequirementsError(f"{where}: a direct URL is not fetched from an upstream")
        requirements.append(requirement)
    return requirements


def file_version(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def selected_files(page: dict, requirement: Requirement, cooldown_days: float) -> list[dict]:
    """The page's entries for the versions ``requirement`` selects."""
    pinned = any(spec.operator in ("==", "===") for spec in requirement.specifier)
    by_version: dict[Version, list[dict]] = {}
    for entry in page.get("files", ()):
        if not services.offered(entry, cooldown_days) or (entry.get("yanked") and not pinned):
            continue
        version = file_version(entry["filename"])
        if version is not None:
            by_version.setdefault(version, []).append(entry)
    if requirement.specifier:
        versions = list(requirement.specifier.filter(by_version))
    else:
        finals = [v for v in by_version if not v.is_prerelease]
        versions = [max(finals or by_version)] if by_version else []
    return [entry for version in sorted(versions) for entry in by_version[version]]


@dataclass
class Fetched:
    """What one requirement brought: files ready here, and what failed."""

    requirement: Requirement
    files: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _fetch_files(session, storage, upstreams, normalized, entries, result: Fetched) -> None:
    for entry in entries:
        names = [entry["filename"]]
        if services.metadata_sha256(entry):
            names.append(entry["filename"] + METADATA_SUFFIX)
        for filename in names:
            try:
                relative = services.mirrored_file(session, storage, upstreams, normalized, filename)
            except (services.FileRefused, services.UpstreamUnavailable) as error:
                result.failures.append(str(error))
                continue
            if relative is None:
                result.failures.append(f"{filename}: not offered by the cached page")
            else:
                result.files.append(filename)


def prefetch(
    session: Session, storage: FileStorage, upstreams: Upstreams, requirement: Requirement
) -> Fetched:
    """The page and the selected files of one requirement's project, committed."""
    result = Fetched(requirement)
    normalized = normalize(requirement.name)
    package = package_by_normalized_name(session, normalized, details=False)
    if not rules.uses_upstream(upstreams, package):
        result.failures.append(
            f"{normalized} is a project of this index serving only its own files "
            f"({rules.LOCAL_ONLY}): nothing is fetched upstream for it"
        )
        return result
    try:
        cached = services.project_page(session, upstreams, normalized)
    except services.UpstreamUnavailable as error:
        result.failures.append(str(error))
        return result
    if cached is None:
        result.failures.append(f"no upstream has a project named {normalized!r}")
        return result
    entries = selected_files(cached.project.page, requirement, upstreams.cooldown_days)
    if not entries:
        result.failures.append(f"no file of {normalized} matches {str(requirement)!r}")
    _fetch_files(session, storage, upstreams, normalized, entries, result)
    session.commit()
    return result
