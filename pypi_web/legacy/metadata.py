"""An upload's core metadata, validated by ``packaging.metadata`` as Warehouse's forklift does.

twine sends each core metadata field as a form field: lower case, underscores
for dashes, one field per value for a multiple-use field (``classifiers``,
``requires_dist``, ``license_file``, ...). The form becomes a
``RawMetadata`` and ``Metadata.from_raw`` checks everything the core
metadata specification says: the metadata version, which fields that version
may carry, names, versions, specifiers, requirements, extras, content types,
license expressions and files, dynamic fields.

What is written here is only PyPI's own rules on top: which metadata versions
it accepts, no local versions, the summary's length, known and current
classifiers, project URL labels, no direct URL dependencies, ``License``
beside ``License-Expression``, and the lengths the database can store. The
messages are pypi.org's, so that twine shows the same reason it shows there.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field

import trove_classifiers
from packaging.metadata import InvalidMetadata, Metadata, RawMetadata, parse_email
from packaging.version import Version

from pypi_web.packaging.names import is_valid_name, normalize

CORE_METADATA_URL = "https://packaging.python.org/specifications/core-metadata"
LOCAL_VERSIONS_URL = (
    "https://packaging.python.org/en/latest/specifications/"
    "version-specifiers/#local-version-identifiers"
)
# The versions pypi.org accepts ("2.0" was never a real one).
SUPPORTED_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5")
MAX_SUMMARY = 512
MAX_PROJECT_URL_LABEL = 32
# What the columns hold (longer values would fail in the database).
COLUMN_LIMITS = {"name": 200, "version": 100, "requires-python": 255}
# Reported first when present: every other error tends to follow from them.
FIRST_FIELDS = ("metadata-version", "name", "version")

# RawMetadata's keys and types; a form field has the key's name, but for these.
RAW_TYPES = typing.get_type_hints(RawMetadata)
FORM_NAMES = {
    "platforms": "platform",
    "supported_platforms": "supported_platform",
    "license_files": "license_file",
    "import_names": "import_name",
    "import_namespaces": "import_namespace",
}


class MetadataError(ValueError):
    """The form's metadata is refused; ``str()`` is pypi.org's message."""


@dataclass
class UploadMetadata:
    """What the index stores of an upload's metadata, as text and lists."""

    metadata_version: str
    name: str
    version: str
    summary: str | None = None
    description: str | None = None
    description_content_type: str | None = None
    keywords: str | None = None
    home_page: str | None = None
    author: str | None = None
    author_email: str | None = None
    maintainer: str | None = None
    maintainer_email: str | None = None
    license: str | None = None
    license_expression: str | None = None
    license_files: list[str] = field(default_factory=list)
    requires_python: str | None = None
    requires_dist: list[str] = field(default_factory=list)
    provides_extra: list[str] = field(default_factory=list)
    dynamic: list[str] = field(default_factory=list)
    classifiers: list[str] = field(default_factory=list)
    project_urls: dict[str, str] = field(default_factory=dict)

    @property
    def normalized_name(self) -> str:
        return normalize(self.name)


def _form_values(form, key: str) -> list[str]:
    """The field's non-empty values; setuptools' "UNKNOWN" placeholder means not given."""
    return [v for v in form.getall(key) if isinstance(v, str) and v.strip() not in ("", "UNKNOWN")]


def _project_urls(entries: list[str]) -> tuple[dict[str, str], list[InvalidMetadata]]:
    urls: dict[str, str] = {}
    errors = []
    for entry in entries:
        label, _, url = (part.strip() for part in entry.partition(","))
        if not label:
            errors.append(InvalidMetadata("project-url", "Must have a label"))
        elif len(label) > MAX_PROJECT_URL_LABEL:
            errors.append(
                InvalidMetadata(
                    "project-url", f"{label!r} must be {MAX_PROJECT_URL_LABEL} characters or less."
                )
            )
        elif not url:
            errors.append(InvalidMetadata("project-url", "Must have a URL"))
        elif label in urls:
            errors.append(InvalidMetadata("project-url", f"{label!r} is given twice"))
        else:
            urls[label] = url
    return urls, errors


def raw_metadata(form) -> tuple[RawMetadata, list[InvalidMetadata]]:
    """The form as RawMetadata, and the fields that could not be read as their type."""
    raw: dict[str, typing.Any] = {}
    errors: list[InvalidMetadata] = []
    for key, kind in RAW_TYPES.items():
        form_name = FORM_NAMES.get(key, key)
        values = _form_values(form, form_name)
        if not values:
            continue
        if kind is str and len(values) == 1:
            raw[key] = values[0]
        elif kind == list[str] and key == "keywords" and len(values) == 1:
            raw[key] = [k.strip() for k in values[0].split(",") if k.strip()]
        elif kind == list[str] and key != "keywords":
            raw[key] = values
        elif key == "project_urls":
            raw[key], url_errors = _project_urls(values)
            errors += url_errors
        else:
            # A single-use field given twice: refused rather than one silently kept.
            errors.append(InvalidMetadata(form_name, f"{form_name!r} has invalid data"))
    return typing.cast(RawMetadata, raw), errors


def _classifier_errors(classifiers: list[str]) -> list[InvalidMetadata]:
    errors = [
        InvalidMetadata("classifier", f"{c!r} is not a valid classifier.")
        for c in sorted(set(classifiers) - set(trove_classifiers.all_classifiers))
    ]
    for classifier in sorted(set(classifiers) & set(trove_classifiers.deprecated_classifiers)):
        replacements = trove_classifiers.deprecated_classifiers[classifier]
        use = f", use one of {replacements} instead" if replacements else ""
        text = f"The classifier {classifier!r} has been deprecated{use}."
        errors.append(InvalidMetadata("classifier", text))
    return errors


def pypi_rules(meta: Metadata) -> list[InvalidMetadata]:
    """What pypi.org refuses beyond the core metadata specification."""
    errors = []
    if meta.metadata_version not in SUPPORTED_METADATA_VERSIONS:
        errors.append(
            InvalidMetadata(
                "metadata-version", f"{meta.metadata_version!r} is not a valid metadata version"
            )
        )
    if meta.version.local:
        text = f"The use of local versions in '{meta.version}' is not allowed."
        errors.append(InvalidMetadata("version", text))
    if meta.summary is not None and len(meta.summary) > MAX_SUMMARY:
        errors.append(
            InvalidMetadata("summary", f"'summary' field must be {MAX_SUMMARY} characters or less.")
        )
    errors += _classifier_errors(meta.classifiers or [])
    errors += [
        InvalidMetadata("requires-dist", f"Can't have direct dependency: {requirement}")
        for requirement in meta.requires_dist or []
        if requirement.url is not None
    ]
    if meta.license and meta.license_expression:
        errors.append(
            InvalidMetadata(
                "license",
                "License is deprecated when License-Expression is present. "
                "Only License-Expression should be present.",
            )
        )
    return errors


def _column_errors(raw: RawMetadata) -> list[InvalidMetadata]:
    values = {"name": raw.get("name"), "version": raw.get("version")}
    values["requires-python"] = raw.get("requires_python")
    return [
        InvalidMetadata(key, f"{key!r} must be {limit} characters or less.")
        for key, limit in COLUMN_LIMITS.items()
        if values[key] is not None and len(values[key]) > limit
    ]


def message(errors: list[InvalidMetadata]) -> str:
    """pypi.org's message: the first error of the most important field, and where to read."""
    by_field: dict[str, list[InvalidMetadata]] = {}
    for error in errors:
        by_field.setdefault(error.field, []).append(error)
    chosen = next((f for f in FIRST_FIELDS if f in by_field), None) or sorted(by_field)[0]
    text = str(by_field[chosen][0])
    url = LOCAL_VERSIONS_URL if "use of local versions" in text else CORE_METADATA_URL
    return f"{text.rstrip('.')}. See {url} for more information."


def _name_error(form) -> str | None:
    """The form's project name as pypi.org's upload form checks it, before anything else."""
    name = (form.get("name") or "").strip() if isinstance(form.get("name"), str) else ""
    if not name:
        error = "This field is required."
    elif not is_valid_name(name):
        error = (
            "Start and end with a letter or numeral containing only ASCII numeric "
            "and '.', '_' and '-'."
        )
    else:
        return None
    return (
        f"{name!r} is an invalid value for Name. Error: {error} "
        f"See {CORE_METADATA_URL} for more information."
    )


def _stored(meta: Metadata, raw: RawMetadata) -> UploadMetadata:
    classifiers = list(dict.fromkeys(meta.classifiers or []))
    project_urls = dict(meta.project_urls or {})
    if meta.download_url and "Download" not in project_urls:
        project_urls["Download"] = meta.download_url
    return UploadMetadata(
        metadata_version=meta.metadata_version,
        name=meta.name,
        version=str(meta.version),
        summary=meta.summary.strip() if meta.summary else None,
        description=meta.description,
        description_content_type=meta.description_content_type,
        keywords=", ".join(meta.keywords) if meta.keywords else None,
        home_page=meta.home_page,
        author=meta.author,
        author_email=meta.author_email,
        maintainer=meta.maintainer,
        maintainer_email=meta.maintainer_email,
        license=meta.license,
        license_expression=meta.license_expression,
        license_files=list(meta.license_files or []),
        requires_python=raw.get("requires_python"),
        # As written: the normalised form would change what the uploader wrote.
        requires_dist=list(raw.get("requires_dist", [])),
        provides_extra=list(meta.provides_extra or []),
        # Field names are case-insensitive: kept in their canonical spelling, as pypi.org does.
        dynamic=[name.title() for name in meta.dynamic or []],
        classifiers=classifiers,
        project_urls=project_urls,
    )


def parse_form(form) -> UploadMetadata:
    """The upload's metadata, or MetadataError with pypi.org's message."""
    name_error = _name_error(form)
    if name_error is not None:
        raise MetadataError(name_error)
    raw, errors = raw_metadata(form)
    errors += _column_errors(raw)
    meta = None
    try:
        meta = Metadata.from_raw(raw)
    except ExceptionGroup as group:
        errors += [e for e in group.exceptions if isinstance(e, InvalidMetadata)]
    if meta is not None:
        errors += pypi_rules(meta)
    if errors:
        raise MetadataError(message(errors))
    assert meta is not None
    return _stored(meta, raw)


def declared_name_and_version(text: bytes) -> tuple[str | None, Version | None]:
    """The Name and Version a METADATA or PKG-INFO file declares (None where it has none)."""
    raw, _ = parse_email(text)
    name = raw.get("name")
    try:
        version = Version(raw["version"]) if "version" in raw else None
    except ValueError:
        version = None
    return name, version
