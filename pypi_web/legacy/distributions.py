"""The file of an upload: its name, its platform tags and its archive, as pypi.org checks them.

The filename rules are pypi.org's (Warehouse's ``forklift/legacy.py``), with
its messages: sdists are ``.tar.gz`` files named as PEP 625 says
(``{normalized_name}-{version}.tar.gz``; a ``.zip`` sdist is refused), wheels
carry the normalized project name and only the platform tags pypi.org
allows (no ``linux_x86_64``: a wheel for Linux is manylinux or musllinux).

Beyond pypi.org, the file's own metadata (a wheel's METADATA, an sdist's
PKG-INFO) must name the project and version of the upload: otherwise the
index would serve, as ``/simple/<name>/``'s PEP 658 metadata, a document
about another project.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
import zlib

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from .metadata import UploadMetadata, declared_name_and_version

PEP_527 = "https://www.python.org/dev/peps/pep-0527"
EXTENSIONS = {"sdist": (".tar.gz", ".zip"), "bdist_wheel": (".whl",)}
DIST_FILE = re.compile(r".+?(?P<extension>\.(tar\.gz|zip|whl))$", re.IGNORECASE)
MAX_ARCHIVE_MEMBERS = 100_000
MAX_METADATA_BYTES = 10 * 1024 * 1024
ZIP_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class DistributionError(ValueError):
    """The file is refused; ``str()`` is the message (pypi.org's where it has one)."""


# ---- platform tags (pypi.org's list: each has an ABI a binary can be built for) ----

FIXED_PLATFORMS = frozenset(
    {
        "any",
        "win32",
        "win_amd64",
        "win_arm64",
        "win_ia64",
        "manylinux1_x86_64",
        "manylinux1_i686",
        "manylinux2010_x86_64",
        "manylinux2010_i686",
        "manylinux2014_x86_64",
        "manylinux2014_i686",
        "manylinux2014_aarch64",
        "manylinux2014_armv7l",
        "manylinux2014_ppc64",
        "manylinux2014_ppc64le",
        "manylinux2014_s390x",
        "linux_armv6l",
        "linux_armv7l",
    }
)
MACOS_ARCHES = frozenset(
    {"ppc", "ppc64", "i386", "x86_64", "arm64", "intel", "fat", "fat3", "fat64"}
    | {"universal", "universal2"}
)
# After 10.x, macOS tags carry the major version only (minor 0).
MACOS_MAJORS = frozenset({"11", "12", "13", "14", "15", "26"})
LINUX_ARCHES = frozenset({"x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"})
ARCHES_BY_LIBC = {"many": LINUX_ARCHES | {"ppc64"}, "musl": LINUX_ARCHES}
IOS_ARCHES = frozenset({"arm64", "x86_64"})
ANDROID_ARCHES = frozenset({"armeabi_v7a", "arm64_v8a", "x86", "x86_64"})

MACOS_TAG = re.compile(r"macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)")
LINUX_TAG = re.compile(r"(?P<libc>many|musl)linux_\d+_\d+_(?P<arch>.+)")
IOS_TAG = re.compile(r"ios_\d+_\d+_(?P<arch>.+)_(iphoneos|iphonesimulator)")
ANDROID_TAG = re.compile(r"android_\d+_(?P<arch>.+)")
EMSCRIPTEN_TAG = re.compile(r"pyemscripten_\d+_\d+_wasm32")


def valid_platform_tag(tag: str) -> bool:
    if tag in FIXED_PLATFORMS:
        return True
    if match := MACOS_TAG.fullmatch(tag):
        major_ok = match["major"] == "10" or (
            match["major"] in MACOS_MAJORS and match["minor"] == "0"
        )
        return major_ok and match["arch"] in MACOS_ARCHES
    if match := LINUX_TAG.fullmatch(tag):
        return match["arch"] in ARCHES_BY_LIBC[match["libc"]]
    if match := IOS_TAG.fullmatch(tag):
        return match["arch"] in IOS_ARCHES
    if match := ANDROID_TAG.fullmatch(tag):
        return match["arch"] in ANDROID_ARCHES
    return EMSCRIPTEN_TAG.fullmatch(tag) is not None


# ---- the filename ----


def check_filename(filename: str, filetype: str, meta: UploadMetadata) -> None:
    """Raise DistributionError unless pypi.org would accept this filename for ``meta``."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in filename):
        raise DistributionError(
            "Cannot upload a file with non-printable characters (ordinals 0-31) "
            "or the DEL character (ordinal 127) in the name."
        )
    if "/" in filename or "\\" in filename:
        raise DistributionError("Cannot upload a file with '/' or '\\' in the name.")
    match = DIST_FILE.match(filename)
    if match is None:
        raise DistributionError(
            f"Invalid file extension: Use .tar.gz, .whl or .zip extension. See {PEP_527} "
            "and https://peps.python.org/pep-0715/ for more information"
        )
    if match["extension"] not in EXTENSIONS[filetype]:
        raise DistributionError(
            f"Invalid file extension: Extension {match['extension']} is invalid for "
            f"filetype {filetype}. See {PEP_527} for more information."
        )
    if filetype == "sdist":
        _check_sdist_filename(filename, meta)
    else:
        _check_wheel_filename(filename, meta)


def _expected_prefix(meta: UploadMetadata) -> str:
    return meta.normalized_name.replace("-", "_")


def _start_filename_with(meta: UploadMetadata) -> DistributionError:
    return DistributionError(f"Start filename for {meta.name!r} with {_expected_prefix(meta)!r}.")


def _check_sdist_filename(filename: str, meta: UploadMetadata) -> None:
    try:
        name, _ = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        raise DistributionError(f"Invalid source distribution filename: {filename}") from None
    if canonicalize_name(name) != meta.normalized_name:
        raise _start_filename_with(meta)
    # PEP 625: the normalized name, the version as published, and .tar.gz only.
    expected = f"{_expected_prefix(meta)}-{meta.version}.tar.gz"
    if filename != expected:
        raise DistributionError(f"Filename {filename!r} is invalid, should be {expected!r}.")


def _check_wheel_filename(filename: str, meta: UploadMetadata) -> None:
    try:
        name, version, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise DistributionError(str(exc)) from None
    for tag in sorted(tags, key=str):
        if not valid_platform_tag(tag.platform):
            raise DistributionError(
                f"Binary wheel '{filename}' has an unsupported platform tag '{tag.platform}'."
            )
    if name != meta.normalized_name:
        raise _start_filename_with(meta)
    written = filename.split("-", 1)[0]
    if written != _expected_prefix(meta):
        raise DistributionError(
            f"Filename {filename!r} should contain the normalized project name "
            f"{_expected_prefix(meta)!r}, not {written!r}."
        )
    if version != Version(meta.version):
        raise DistributionError(
            f"Version in filename should be {meta.version!r} not {str(version)!r}."
        )


# ---- the archive ----


def invalid(reason: str) -> DistributionError:
    return DistributionError(f"Invalid distribution file. {reason}")


def _wheel_metadata(path, filename: str) -> tuple[bytes, set[str]]:
    """The wheel's ``{name}-{version}.dist-info/METADATA`` (as the filename spells them)

    and the names of its members.
    """
    name, version = filename.split("-")[:2]
    dist_info = f"{name}-{version}.dist-info"
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ARCHIVE_MEMBERS:
                raise invalid(f"More than {MAX_ARCHIVE_MEMBERS} files in the archive")
            if any(m.compress_type not in ZIP_COMPRESSIONS for m in members):
                raise invalid("File does not use a supported compression type")
            names = {m.filename for m in members}
            if f"{dist_info}/WHEEL" not in names:
                raise invalid(f"WHEEL not found at {dist_info}/WHEEL")
            if f"{dist_info}/METADATA" not in names:
                raise DistributionError(
                    f"Wheel '{filename}' does not contain the required METADATA file: "
                    f"{dist_info}/METADATA"
                )
            info = archive.getinfo(f"{dist_info}/METADATA")
            if info.file_size > MAX_METADATA_BYTES:
                raise invalid(f"{dist_info}/METADATA is larger than {MAX_METADATA_BYTES} bytes")
            return archive.read(info), names
    except (zipfile.BadZipFile, EOFError, OSError):
        raise invalid("File is not a zipfile") from None


def _sdist_pkg_info(path, wanted: list[str]) -> tuple[str, bytes, set[str]]:
    """The sdist's ``{top}/PKG-INFO`` and which of ``wanted`` (paths under ``{top}/``) it has.

    Read as the archive streams, and only as far as needed: a whole pass over a
    compressed tar costs what its uncompressed size costs.
    """
    found: set[str] = set()
    pkg_info = None
    top = None
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for count, member in enumerate(archive):
                if count >= MAX_ARCHIVE_MEMBERS:
                    break
                parts = member.name.removeprefix("./").split("/")
                if top is None:
                    top = parts[0]
                    if len(parts) == 1 and not member.isdir():
                        raise invalid("Incorrect number of top-level directories in sdist")
                if parts[0] != top or not member.isfile():
                    continue
                inner = "/".join(parts[1:])
                if inner == "PKG-INFO":
                    if member.size > MAX_METADATA_BYTES:
                        raise invalid(f"{member.name} is larger than {MAX_METADATA_BYTES} bytes")
                    pkg_info = (member.name, archive.extractfile(member).read())
                elif inner in wanted:
                    found.add(inner)
                if pkg_info is not None and found == set(wanted):
                    break
    except (tarfile.TarError, EOFError, OSError, zlib.error):
        raise invalid("File is not a tarfile") from None
    if top is None:
        raise invalid("Incorrect number of top-level directories in sdist")
    if pkg_info is None:
        raise invalid(f"PKG-INFO not found at {top}/PKG-INFO")
    return *pkg_info, found


def _check_declared(where: str, text: bytes, meta: UploadMetadata) -> None:
    name, version = declared_name_and_version(text)
    if name is None or canonicalize_name(name) != meta.normalized_name:
        raise invalid(f"{where} names the project {name!r}, not {meta.name!r}.")
    if version is None or version != Version(meta.version):
        declared = str(version) if version is not None else None
        raise invalid(f"{where} has the version {declared!r}, not {meta.version!r}.")


def check_archive(path, filename: str, filetype: str, meta: UploadMetadata) -> bytes | None:
    """The wheel's METADATA (None for an sdist); DistributionError when the archive is refused.

    Each License-File the metadata names must be in the file (PEP 639): under
    ``.dist-info/licenses/`` in a wheel, under the top directory in an sdist.
    """
    if filetype == "bdist_wheel":
        text, names = _wheel_metadata(path, filename)
        dist_info = "-".join(filename.split("-")[:2]) + ".dist-info"
        _check_declared(f"{dist_info}/METADATA", text, meta)
        for license_file in meta.license_files:
            target = f"{dist_info}/licenses/{license_file}"
            if target not in names:
                raise _no_license_file(license_file, filename, target)
        return text
    where, text, found = _sdist_pkg_info(path, meta.license_files)
    _check_declared(where, text, meta)
    top = where.rsplit("/", 1)[0]
    for license_file in meta.license_files:
        if license_file not in found:
            raise _no_license_file(license_file, filename, f"{top}/{license_file}")
    return None


def _no_license_file(license_file: str, filename: str, target: str) -> DistributionError:
    return DistributionError(
        f"License-File {license_file} does not exist in distribution file {filename} at {target}"
    )
