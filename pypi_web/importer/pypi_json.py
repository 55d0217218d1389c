"""Import PyPI JSON API documents (the body of ``/pypi/<name>/json``).

A document is validated and converted completely before anything is written;
then it is stored inside a savepoint, so a bad document is reported with its
file name and the reason and leaves nothing behind, the rest import, and the
caller commits once. Importing the same documents twice changes nothing.

What the real data holds, and what is done with it:

* Versions are kept exactly as published, legacy (non-PEP 440) ones included;
  "0.12.01" and "0.12.1" are two releases even though PEP 440 calls them equal.
* ``info`` describes the latest release only: its summary, description,
  requires-python and requires-dist go on that release (and on the package);
  other releases get none rather than a copy of someone else's.
* Empty strings and setuptools' "UNKNOWN" placeholder mean "not given" (None);
  a missing or empty ``description_content_type`` stays None (pages guess).
* Author and maintainer fields are stored as written, several comma-separated
  names and addresses included.
* A release with no files is kept. Its ``created`` time is estimated from its
  neighbours in version order (see ``release_times``).
* Filenames are unique across the whole index, as on PyPI, where a filename
  can never be reused: a document that lists one filename twice, or a file
  that is already on the index under another release, is rejected; a file
  already imported is never given other contents (sha256, size).
* A later document updates what it describes: the package's metadata, its
  classifiers (added, never removed: see ``_link_classifiers``), its latest
  release's metadata, yanked flags, and the details
  of known files (a digest added, say). Files uploaded to this index are
  never touched.
* Every project that changes gets a journal entry; its ``last_serial`` and
  ``last_updated`` move on, so caches (ETags) see the change.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from pypi_web.models import (
    Classifier,
    Package,
    ReleaseFile,
)
from pypi_web.packaging.names import is_valid_name, normalize

from .data import (
    METADATA_LISTS,
    BadDocument,
    ImportReport,
    ProjectData,
    ReleaseData,
    check_lengths,
    check_version,
    text_value,
)
from .store import Importer


def parse_upload_time(value: Any, where: str) -> datetime.datetime:
    """PyPI's upload times are naive UTC ("2010-04-16T14:29:37") or ISO 8601 with a zone."""
    if not isinstance(value, str):
        raise BadDocument(f"{where}: upload_time {value!r} is not a string")
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadDocument(f"{where}: upload_time {value!r} is not a timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC)


def _string_list(value: Any, where: str, key: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadDocument(f"{where}: {key} is not a list of strings")
    return value


_HEX = re.compile(r"^[0-9a-fA-F]+$")


def _digest(value: Any, length: int, where: str, name: str, required: bool) -> str | None:
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or len(value) != length or not _HEX.match(value):
        raise BadDocument(f"{where}: {name} digest {value!r} is not {length} hex digits")
    return value.lower()


def _web_url(value: Any) -> bool:
    # Only web addresses: a "javascript:" URL would become a link on the simple index.
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


def _project_urls(info: dict, where: str) -> dict[str, str] | None:
    urls = info.get("project_urls")
    result: dict[str, str] = {}
    if urls is not None:
        if not isinstance(urls, dict):
            raise BadDocument(f"{where}: project_urls is not an object")
        for label, url in urls.items():
            url = text_value(url, where, f"project_urls[{label!r}]")
            if url:
                result[label] = url
    for key, label in (
        ("docs_url", "Documentation"),
        ("bugtrack_url", "Bug Tracker"),
        ("download_url", "Download"),
    ):
        value = text_value(info.get(key), where, key)
        if value and label not in result:
            result[label] = value
    return result or None


def _keywords(value: Any, where: str) -> str | None:
    # Newer metadata tools publish keywords as a list.
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v)
    return text_value(value, where, "keywords")


def file_row(f: Any, where: str) -> dict[str, Any]:
    """A ReleaseFile row (without release_id) from a JSON API file entry."""
    if not isinstance(f, dict):
        raise BadDocument(f"{where}: a file entry is not an object")
    filename = f.get("filename")
    if not isinstance(filename, str) or not filename or "/" in filename or "\\" in filename:
        raise BadDocument(f"{where}: file without a valid filename ({filename!r})")
    where = f"{where}, file {filename}"
    digests = f.get("digests") or {}
    if not isinstance(digests, dict):
        raise BadDocument(f"{where}: digests is not an object")
    size = f.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadDocument(f"{where}: size {size!r} is not a byte count")
    url = f.get("url")
    if not _web_url(url):
        raise BadDocument(f"{where}: download URL {url!r} is not an http(s) URL")
    packagetype = f.get("packagetype")
    if not isinstance(packagetype, str) or not packagetype:
        raise BadDocument(f"{where}: packagetype {packagetype!r} is not a string")
    row = {
        "filename": filename,
        "packagetype": packagetype,
        "python_version": text_value(f.get("python_version"), where, "python_version"),
        "requires_python": text_value(f.get("requires_python"), where, "requires_python"),
        "size": size,
        "md5_digest": _digest(digests.get("md5") or f.get("md5_digest"), 32, where, "md5", False),
        "sha256_digest": _digest(digests.get("sha256"), 64, where, "sha256", True),
        "blake2_256_digest": _digest(digests.get("blake2b_256"), 64, where, "blake2b_256", False),
        "upload_time": parse_upload_time(
            f.get("upload_time_iso_8601") or f.get("upload_time"), where
        ),
        "comment_text": text_value(f.get("comment_text"), where, "comment_text"),
        "url": url,
    }
    check_lengths(ReleaseFile.__table__, row, where)
    return row


def _yanked(files: list[Any], where: str) -> tuple[bool, str | None] | None:
    # Documents from before PEP 592 say nothing, which must not un-yank a release.
    flags = [f.get("yanked") for f in files if isinstance(f, dict) and "yanked" in f]
    if not flags:
        return None
    if not all(isinstance(flag, bool) for flag in flags):
        raise BadDocument(f"{where}: yanked is not true or false")
    # PyPI yanks whole releases; a release is yanked when all its files are.
    if not all(flags):
        return (False, None)
    reasons = [text_value(f.get("yanked_reason"), where, "yanked_reason") for f in files]
    return (True, next((r for r in reasons if r), None))


def project_from_document(document: Any) -> ProjectData:
    """Validate a JSON API document and convert it, touching no database.

    Error messages say where in the document the problem is, not which file
    the document came from: the caller knows that.
    """
    if not isinstance(document, dict) or not isinstance(document.get("info"), dict):
        raise BadDocument("not a PyPI JSON API document (no 'info' object)")
    info = document["info"]
    where = "info"
    name = info.get("name")
    if not isinstance(name, str) or not is_valid_name(name):
        raise BadDocument(f"{where}: invalid project name {name!r}")
    latest = info.get("version")
    if latest is not None:
        latest = check_version(latest, where)
    releases = document.get("releases")
    if not isinstance(releases, dict):
        raise BadDocument("'releases' is not an object of version -> files")

    fields = _project_fields(info, name, where)
    classifiers = _classifiers(info, where)
    latest_metadata = _latest_metadata(info, fields, where)
    result = _listed_releases(releases)
    if latest is not None:
        _describe_latest(result, document, latest, latest_metadata)
    _refuse_repeated_filenames(result)
    return ProjectData(name=name, fields=fields, classifiers=classifiers, releases=result)


def _project_fields(info: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    """The project's columns from the document's "info", checked against their lengths."""
    fields: dict[str, Any] = {
        "name": name,
        "summary": text_value(info.get("summary"), where, "summary"),
        "description": text_value(info.get("description"), where, "description"),
        "description_content_type": text_value(
            info.get("description_content_type"), where, "description_content_type"
        ),
        "author": text_value(info.get("author"), where, "author"),
        "author_email": text_value(info.get("author_email"), where, "author_email"),
        "maintainer": text_value(info.get("maintainer"), where, "maintainer"),
        "maintainer_email": text_value(info.get("maintainer_email"), where, "maintainer_email"),
        "license": text_value(info.get("license"), where, "license"),
        "keywords": _keywords(info.get("keywords"), where),
        "homepage_url": text_value(info.get("home_page"), where, "home_page"),
        "project_urls": _project_urls(info, where),
        "requires_python": text_value(info.get("requires_python"), where, "requires_python"),
    }
    check_lengths(Package.__table__, fields, where)
    return fields


def _classifiers(info: dict[str, Any], where: str) -> list[str]:
    """The project's classifiers, stripped, without blanks or repeats, sorted."""
    classifiers = _string_list(info.get("classifiers"), where, "classifiers") or []
    classifiers = sorted({c.strip() for c in classifiers if c.strip()})
    for classifier in classifiers:
        check_lengths(Classifier.__table__, {"classifier": classifier}, where)
    return classifiers


def _latest_metadata(info: dict[str, Any], fields: dict[str, Any], where: str) -> dict[str, Any]:
    """The release metadata "info" gives, which is the latest release's."""
    return {
        "summary": fields["summary"],
        "description": fields["description"],
        "description_content_type": fields["description_content_type"],
        "requires_python": fields["requires_python"],
        "requires_dist": _string_list(info.get("requires_dist"), where, "requires_dist"),
        # Metadata 2.2-2.4, in documents from indexes that serve them (pypi.org does).
        "license_expression": text_value(
            info.get("license_expression"), where, "license_expression"
        ),
        **{key: _string_list(info.get(key), where, key) for key in METADATA_LISTS},
    }


def _listed_releases(releases: dict[str, Any]) -> dict[str, ReleaseData]:
    """The releases under "releases", by version, with their files and yank."""
    result: dict[str, ReleaseData] = {}
    for version, files in releases.items():
        at = f"release {version!r}"
        check_version(version, at)
        if not isinstance(files, list):
            raise BadDocument(f"{at}: its files are not a list")
        result[version] = ReleaseData(
            files=[file_row(f, at) for f in files], yanked=_yanked(files, at)
        )
    return result


def _describe_latest(
    result: dict[str, ReleaseData],
    document: dict[str, Any],
    latest: str,
    latest_metadata: dict[str, Any],
) -> None:
    """Give the latest release its metadata and yank, adding it from "urls" if unlisted."""
    info = document["info"]
    if latest not in result:
        # Not listed under "releases": "urls" holds the latest release's files.
        urls = document.get("urls") or []
        if not isinstance(urls, list):
            raise BadDocument("'urls' is not a list of files")
        at = f"release {latest!r}"
        result[latest] = ReleaseData(
            files=[file_row(f, at) for f in urls], yanked=_yanked(urls, at)
        )
    result[latest].metadata = latest_metadata
    if info.get("yanked") is True:
        reason = text_value(info.get("yanked_reason"), "info", "yanked_reason")
        result[latest].yanked = (True, reason)


def _refuse_repeated_filenames(result: dict[str, ReleaseData]) -> None:
    """A filename is unique on an index: a document listing one twice is bad."""
    seen: dict[str, str] = {}
    for version, release in result.items():
        for row in release.files:
            other = seen.get(row["filename"])
            if other is not None:
                raise BadDocument(
                    f"file {row['filename']} is listed twice (under release {other!r} and "
                    f"under release {version!r}); a filename is unique on an index"
                )
            seen[row["filename"]] = version


class PypiJsonImporter(Importer):
    """Imports PyPI JSON API documents into one session; the caller commits."""

    def __init__(self, dbsession: Session, report: ImportReport | None = None):
        super().__init__(dbsession, report)
        # Project -> the file it was imported from in this run. Two documents
        # of one project would overwrite each other on every run, and a
        # second run would never be a no-op.
        self._imported_from: dict[str, str] = {}

    def import_paths(
        self, paths: Iterable[Path], progress: Callable[[Path], None] | None = None
    ) -> ImportReport:
        for path in paths:
            self.import_path(path)
            if progress is not None:
                progress(path)
        return self.report

    def import_path(self, path: Path) -> None:
        self.report.documents += 1
        try:
            with path.open("rb") as fh:
                document = json.load(fh)
        except OSError as exc:
            self.report.errors.append((str(path), f"cannot be read: {exc.strerror or exc}"))
            return
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.report.errors.append((str(path), f"not valid JSON: {exc}"))
            return
        with self.savepoint(str(path)):
            project = project_from_document(document)
            normalized = normalize(project.name)
            other = self._imported_from.get(normalized)
            if other is not None:
                raise BadDocument(
                    f"project {project.name} was already imported from {other} in this run"
                )
            self.store(project, authoritative=True)
            self._imported_from[normalized] = str(path)

    def import_document(self, document: Any) -> Package:
        return self.store(project_from_document(document), authoritative=True)


def json_documents(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())
