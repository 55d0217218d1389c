"""Import the distributions installed in the running Python environment.

A fresh machine has real packages to browse with nothing downloaded: every
installed distribution's core metadata (METADATA or PKG-INFO) becomes a
package and a release.

An installed distribution has no release file: what is on disk is the
unpacked installation, not the sdist or wheel it came from, and no index URL
or digest of that file is known. Rather than invent a file, the release is
stored without files, as PyPI shows a release whose files were never uploaded.

Installed metadata is poorer than an index's (no upload times, no files), so it
only fills gaps: a project already stored keeps its package data and
classifiers, a version already stored (PEP 440 equal: "2.0.0" is "2.0") is
left alone, and only a version not yet stored is added, as a release without
files dated at the time of the import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import Distribution, distributions
from pathlib import Path
from typing import Any

from packaging.metadata import parse_email

from pypi_web.models import Classifier, Package
from pypi_web.packaging.names import is_valid_name, normalize

from .data import (
    BadDocument,
    ImportReport,
    ProjectData,
    ReleaseData,
    check_lengths,
    check_version,
    text_value,
)
from .store import Importer


def distribution_location(dist: Distribution) -> str:
    """The .dist-info / .egg-info directory a distribution was read from."""
    # PathDistribution keeps it in a private attribute: the public API offers
    # no other way to say which directory a broken distribution lives in.
    path = getattr(dist, "_path", None)
    if path is not None:
        return str(Path(path).resolve())
    return f"installed distribution {dist.name!r}"


def installed_distributions() -> list[Distribution]:
    """One distribution per project, the one ``import`` would find first on sys.path."""
    seen: set[str] = set()
    result = []
    for dist in distributions():
        try:
            name = dist.metadata["Name"]
        except Exception:  # broken metadata: kept, so that its import reports why
            name = None
        key = normalize(name) if isinstance(name, str) and name else distribution_location(dist)
        if key not in seen:
            seen.add(key)
            result.append(dist)
    return result


def _description(raw: dict[str, Any]) -> str | None:
    description = raw.get("description")
    if not description or "\n" not in description:
        return description
    # Metadata 1.x put the description in a header, every line after the
    # first indented by 8 spaces (distutils) or by 7 spaces and a "|" (setuptools).
    first, *rest = description.split("\n")
    if rest and all(line.startswith(("        ", "       |")) or not line for line in rest):
        rest = [line[8:] for line in rest]
    return "\n".join([first, *rest])


def project_from_metadata(text: str) -> ProjectData:
    """Validate core metadata (the METADATA file's text) and convert it."""
    raw, _unparsed = parse_email(text)
    name = raw.get("name")
    if not isinstance(name, str) or not is_valid_name(name):
        raise BadDocument(f"metadata: invalid project name {name!r}")
    version = check_version(raw.get("version"), "metadata")
    where = f"metadata of {name} {version}"

    project_urls: dict[str, str] = dict(raw.get("project_urls") or {})
    download_url = text_value(raw.get("download_url"), where, "Download-URL")
    if download_url and "Download" not in project_urls:
        project_urls["Download"] = download_url
    requires_dist = raw.get("requires_dist")
    fields: dict[str, Any] = {
        "name": name,
        "summary": text_value(raw.get("summary"), where, "Summary"),
        "description": text_value(_description(raw), where, "Description"),
        "description_content_type": text_value(
            raw.get("description_content_type"), where, "Description-Content-Type"
        ),
        "author": text_value(raw.get("author"), where, "Author"),
        "author_email": text_value(raw.get("author_email"), where, "Author-email"),
        "maintainer": text_value(raw.get("maintainer"), where, "Maintainer"),
        "maintainer_email": text_value(raw.get("maintainer_email"), where, "Maintainer-email"),
        # Metadata 2.4 replaces License with an SPDX License-Expression.
        "license": text_value(
            raw.get("license_expression") or raw.get("license"), where, "License"
        ),
        "keywords": text_value(", ".join(raw.get("keywords") or []), where, "Keywords"),
        "homepage_url": text_value(raw.get("home_page"), where, "Home-page"),
        "project_urls": {k: v for k, v in project_urls.items() if v} or None,
        "requires_python": text_value(raw.get("requires_python"), where, "Requires-Python"),
    }
    check_lengths(Package.__table__, fields, where)
    classifiers = sorted({c.strip() for c in raw.get("classifiers") or [] if c.strip()})
    for classifier in classifiers:
        check_lengths(Classifier.__table__, {"classifier": classifier}, where)
    release = ReleaseData(
        metadata={
            "summary": fields["summary"],
            "description": fields["description"],
            "description_content_type": fields["description_content_type"],
            "requires_python": fields["requires_python"],
            "requires_dist": list(requires_dist) if requires_dist else None,
            "license_expression": text_value(
                raw.get("license_expression"), where, "License-Expression"
            ),
            "license_files": raw.get("license_files") or None,
            "provides_extra": raw.get("provides_extra") or None,
            "dynamic": raw.get("dynamic") or None,
        }
    )
    return ProjectData(
        name=name, fields=fields, classifiers=classifiers, releases={version: release}
    )


class InstalledImporter(Importer):
    """Imports installed distributions into one session; the caller commits."""

    def import_distributions(
        self,
        dists: Iterable[Distribution] | None = None,
        progress: Callable[[Distribution], None] | None = None,
    ) -> ImportReport:
        for dist in installed_distributions() if dists is None else dists:
            self.import_distribution(dist)
            if progress is not None:
                progress(dist)
        return self.report

    def import_distribution(self, dist: Distribution) -> None:
        self.report.distributions += 1
        source = distribution_location(dist)
        try:
            text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
        except (OSError, UnicodeDecodeError) as exc:
            self.report.errors.append((source, f"its metadata cannot be read: {exc}"))
            return
        if not text:
            self.report.errors.append((source, "has no METADATA or PKG-INFO file"))
            return
        with self.savepoint(source):
            self.store(project_from_metadata(text), authoritative=False)
