"""Fixtures for the upload and JSON API tests: distributions made in memory, tokens, uploads."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile

import pytest

from pypi_web.accounts import services as accounts


def core_metadata(
    name: str, version: str, requires_python: str | None = None, metadata_version: str = "2.1"
) -> bytes:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    return ("\n".join(lines) + "\n\n").encode()


def make_wheel(
    name: str,
    version: str,
    payload: str = "",
    requires_python: str | None = None,
    *,
    tag: str = "py3-none-any",
    metadata: bytes | None = None,
    licenses: tuple[str, ...] = (),
):
    """(filename, bytes) of a small but real wheel; ``metadata`` replaces its METADATA.

    ``licenses``: license files to put under its .dist-info/licenses/.
    """
    dist = f"{name.replace('-', '_')}-{version}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name.replace('-', '_')}/__init__.py", f"VALUE = {payload!r}\n")
        archive.writestr(
            f"{dist}.dist-info/METADATA", metadata or core_metadata(name, version, requires_python)
        )
        archive.writestr(
            f"{dist}.dist-info/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n",
        )
        for license_file in licenses:
            archive.writestr(f"{dist}.dist-info/licenses/{license_file}", "License text\n")
        archive.writestr(f"{dist}.dist-info/RECORD", "")
    return f"{dist}-{tag}.whl", buffer.getvalue()


def make_sdist(
    name: str,
    version: str,
    payload: str = "",
    *,
    metadata: bytes | None = None,
    licenses: tuple[str, ...] = (),
):
    """(filename, bytes) of a small sdist; ``metadata`` replaces its PKG-INFO."""
    dist = f"{name.replace('-', '_')}-{version}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, data in (
            ("PKG-INFO", metadata or core_metadata(name, version)),
            ("setup.py", f"# {payload}\n".encode()),
            *((license_file, b"License text\n") for license_file in licenses),
        ):
            info = tarfile.TarInfo(f"{dist}/{member}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return f"{dist}.tar.gz", buffer.getvalue()


def basic_auth(username: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def upload_fields(name: str, version: str, filename: str, content: bytes, **overrides):
    """The form twine sends for one file (as a list of pairs: repeated keys allowed)."""
    filetype = "bdist_wheel" if filename.endswith(".whl") else "sdist"
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": name,
        "version": version,
        "filetype": filetype,
        "pyversion": "py3" if filetype == "bdist_wheel" else "source",
        "summary": f"The {name} project",
        "sha256_digest": hashlib.sha256(content).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(content, digest_size=32).hexdigest(),
    }
    extra: list[tuple[str, str]] = []
    for key, value in overrides.items():
        if isinstance(value, list):
            extra += [(key, v) for v in value]
            fields.pop(key, None)
        elif value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return [(k, v) for k, v in fields.items() if v is not None] + extra


@pytest.fixture
def uploader(make_user, dbsession):
    """A user with a password and an unrestricted API token: (user, token secret)."""
    user = make_user("uploader")
    _, secret = accounts.create_api_token(dbsession, user, "tests")
    return user, secret


@pytest.fixture
def post_upload(testapp, uploader):
    """``post_upload(filename, content, name=, version=, auth=, **fields)`` -> response."""

    def post(filename, content, *, name, version, auth=None, status="*", **fields):
        if auth is None:
            auth = basic_auth(accounts.TOKEN_USERNAME, uploader[1])
        return testapp.post(
            "/legacy/",
            params=upload_fields(name, version, filename, content, **fields),
            upload_files=[("content", filename, content)],
            headers=auth,
            status=status,
        )

    return post
