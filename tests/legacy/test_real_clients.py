"""twine and pip, unmodified, against the app served by waitress on a loopback port.

One project (two versions, sdist + wheel each) is built once with
``python -m build``; each backend gets its own freshly migrated database, a
user and token made with the real ``pypi-web-user`` command, one server and
one client virtualenv. Uploading an identical file again is a no-op on the
index, so each test uploads what it needs and the tests do not depend on
their order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from waitress.server import create_server

from pypi_web import main
from pypi_web.accounts.services import user_by_username
from pypi_web.manage import services as manage
from pypi_web.models import Package, Release, get_engine

from ..conftest import upgrade

pytestmark = pytest.mark.slow

PROJECT = "realclient-demo"
MODULE = "realclient_demo"
BIN = Path(sys.executable).parent


def run(command: list[str], *, env=None, cwd=None, check=True, stdin=None):
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=cwd, input=stdin, timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def clean_env() -> dict[str, str]:
    """The environment without pip/twine settings: only our index is ever asked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TWINE_"))}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def write_project(root: Path, version: str, value: str) -> None:
    (root / "src" / MODULE).mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        f'name = "{PROJECT}"\n'
        f'version = "{version}"\n'
        'description = "A project built by the test suite"\n'
        'readme = "README.md"\n'
        'requires-python = ">=3.8"\n'
        'classifiers = ["Programming Language :: Python :: 3"]\n'
        "[project.urls]\n"
        'Source = "https://example.org/realclient-demo"\n'
    )
    (root / "README.md").write_text(f"# {PROJECT}\n\nVersion {version}.\n")
    (root / "src" / MODULE / "__init__.py").write_text(f"VALUE = {value!r}\n")


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, list[Path]]:
    """version -> [sdist, wheel], built with the real ``python -m build``."""
    built = {}
    for version, value in (("1.0", "one"), ("2.0", "two")):
        root = tmp_path_factory.mktemp(f"project-{version}")
        write_project(root, version, value)
        # --no-isolation: the build must not need the network.
        run([sys.executable, "-m", "build", "--no-isolation", "--outdir", "dist", "."], cwd=root)
        # The sdist first, then the wheel.
        built[version] = sorted((root / "dist").iterdir(), key=lambda p: p.suffix == ".whl")
        assert [p.suffix for p in built[version]] == [".gz", ".whl"], built[version]
    return built


class LiveIndex:
    def __init__(self, url: str, db_url: str, token: str, storage: Path):
        self.url = url
        self.db_url = db_url
        self.token = token
        self.storage = storage

    @property
    def simple(self) -> str:
        return self.url + "/simple/"

    def json(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path) as response:
            return json.load(response)

    def twine(self, files, token: str | None = None, check=True):
        return run(
            [
                str(BIN / "twine"),
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                self.url + "/legacy/",
                "-u",
                "__token__",
                "-p",
                token or self.token,
                *map(str, files),
            ],
            env=clean_env(),
            check=check,
        )


@pytest.fixture(scope="module")
def live_index(backend, database_factory, tmp_path_factory):
    db_url = database_factory.create("realclients")
    upgrade(db_url)
    root = tmp_path_factory.mktemp(f"live-{backend}")
    storage = root / "files"
    ini = root / "app.ini"
    ini.write_text(
        "[app:main]\n"
        "use = egg:pypi_web\n"
        f"sqlalchemy.url = {db_url}\n"
        f"files.storage_dir = {storage}\n"
        "session.secret = test-only-session-secret-0123456789abcdef\n"
    )
    # The operator's command makes the user and prints the token.
    created = run(
        [str(BIN / "pypi-web-user"), "create", str(ini), "publisher", "--no-password", "--token"]
    )
    token = created.stdout.strip()
    assert token.startswith("pypi-"), created

    app = main(
        {},
        **{
            "sqlalchemy.url": db_url,
            "files.storage_dir": str(storage),
            "session.secret": "test-only-session-secret-0123456789abcdef",
            # As production.ini configures them: pip must see an upload at once
            # through the page cache.
            "retry.attempts": "3",
            "page_cache.max_bytes": "16777216",
        },
    )
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield LiveIndex(f"http://127.0.0.1:{server.effective_port}", db_url, token, storage)
    server.close()
    app.registry["dbengine"].dispose()


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory) -> Path:
    """A fresh virtualenv to install into (with the pip that venv bundles)."""
    path = tmp_path_factory.mktemp("client-venv")
    run([sys.executable, "-m", "venv", str(path)])
    return path / "bin" / "python"


def pip(python: Path, index: LiveIndex, *args: str, check=True):
    return run(
        [
            str(python),
            "-m",
            "pip",
            *args,
            "--index-url",
            index.simple,
            "--no-cache-dir",
        ],
        env=clean_env(),
        check=check,
    )


def installed_value(python: Path) -> str:
    return run([str(python), "-c", f"import {MODULE}; print({MODULE}.VALUE)"]).stdout.strip()


def reinstall(python: Path, index: LiveIndex, requirement: str):
    run([str(python), "-m", "pip", "uninstall", "-y", "-q", PROJECT], env=clean_env())
    return pip(python, index, "install", requirement)


def test_twine_upload_then_pip_install(live_index, dists, client_venv):
    live_index.twine(dists["1.0"])
    document = live_index.json(f"/pypi/{PROJECT}/json")
    assert document["info"]["version"] == "1.0"
    assert document["info"]["summary"] == "A project built by the test suite"
    assert document["info"]["description_content_type"] == "text/markdown"
    assert document["info"]["project_urls"] == {"Source": "https://example.org/realclient-demo"}
    assert sorted(f["packagetype"] for f in document["urls"]) == ["bdist_wheel", "sdist"]
    wheel = next(f for f in document["urls"] if f["packagetype"] == "bdist_wheel")
    assert wheel["core-metadata"] is not False  # the wheel's METADATA was extracted

    reinstall(client_venv, live_index, PROJECT)
    assert installed_value(client_venv) == "one"


def test_pip_download_require_hashes(live_index, dists, tmp_path):
    live_index.twine(dists["1.0"])
    files = live_index.json(f"/pypi/{PROJECT}/1.0/json")["urls"]
    wheel = next(f for f in files if f["packagetype"] == "bdist_wheel")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{PROJECT}==1.0 --hash=sha256:{wheel['digests']['sha256']}\n")
    pip(
        Path(sys.executable),
        live_index,
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--require-hashes",
        "-r",
        str(requirements),
        "-d",
        str(tmp_path / "downloads"),
    )
    assert [p.name for p in (tmp_path / "downloads").iterdir()] == [wheel["filename"]]
    # A wrong hash is refused by pip: the index serves exactly what it advertised.
    requirements.write_text(f"{PROJECT}==1.0 --hash=sha256:{'0' * 64}\n")
    refused = pip(
        Path(sys.executable),
        live_index,
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--require-hashes",
        "-r",
        str(requirements),
        "-d",
        str(tmp_path / "refused"),
        check=False,
    )
    assert refused.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in refused.stderr


def test_second_version_and_version_specifiers(live_index, dists, client_venv):
    live_index.twine(dists["1.0"])
    serial_before = live_index.json(f"/pypi/{PROJECT}/json")["last_serial"]
    live_index.twine(dists["2.0"])
    document = live_index.json(f"/pypi/{PROJECT}/json")
    assert document["last_serial"] > serial_before
    assert document["info"]["version"] == "2.0"
    assert list(document["releases"]) == ["1.0", "2.0"]

    reinstall(client_venv, live_index, f"{PROJECT}<2")
    assert installed_value(client_venv) == "one"
    reinstall(client_venv, live_index, PROJECT)
    assert installed_value(client_venv) == "two"


def test_yanked_release_is_skipped_unless_pinned(live_index, dists, client_venv):
    live_index.twine(dists["1.0"])
    live_index.twine(dists["2.0"])
    engine = get_engine({"sqlalchemy.url": live_index.db_url})
    try:
        with Session(engine) as session:
            release = session.scalars(
                select(Release)
                .join(Package)
                .where(Package.normalized_name == PROJECT, Release.version == "2.0")
            ).one()
            if not release.yanked:
                manage.yank(
                    session, release, "broken build", user_by_username(session, "publisher")
                )
            session.commit()

        reinstall(client_venv, live_index, PROJECT)
        assert installed_value(client_venv) == "one"
        pinned = reinstall(client_venv, live_index, f"{PROJECT}==2.0")
        assert installed_value(client_venv) == "two"
        assert "broken build" in pinned.stdout + pinned.stderr  # pip warns with the reason
    finally:
        with Session(engine) as session:
            release = session.scalars(
                select(Release)
                .join(Package)
                .where(Package.normalized_name == PROJECT, Release.version == "2.0")
            ).one()
            if release.yanked:
                manage.unyank(session, release, user_by_username(session, "publisher"))
            session.commit()
        engine.dispose()


def test_identical_upload_again_changes_nothing(live_index, dists):
    live_index.twine(dists["1.0"])
    serial = live_index.json(f"/pypi/{PROJECT}/json")["last_serial"]
    result = live_index.twine(dists["1.0"])
    assert result.returncode == 0
    assert live_index.json(f"/pypi/{PROJECT}/json")["last_serial"] == serial


def test_twine_with_a_wrong_token_fails_with_the_servers_message(live_index, dists):
    result = live_index.twine(dists["1.0"], token="pypi-not-a-real-token", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "403" in output
    assert "Invalid API Token: the token is unknown or has been revoked." in output


def test_twine_changed_file_under_existing_name_fails(live_index, dists, tmp_path):
    live_index.twine(dists["1.0"])
    sdist = dists["1.0"][0]
    changed = tmp_path / sdist.name
    changed.write_bytes(sdist.read_bytes() + b"\0")  # trailing bytes gzip readers ignore
    result = live_index.twine([changed], check=False)
    assert result.returncode != 0
    assert "File already exists" in result.stdout + result.stderr


def test_stored_files_are_hash_addressed(live_index, dists):
    live_index.twine(dists["1.0"])
    files = live_index.json(f"/pypi/{PROJECT}/1.0/json")["urls"]
    for f in files:
        sha = f["digests"]["sha256"]
        stored = live_index.storage / sha[:2] / sha[2:4] / sha / f["filename"]
        assert (
            stored.read_bytes()
            == next(p for p in dists["1.0"] if p.name == f["filename"]).read_bytes()
        )


def test_concurrent_identical_uploads_leave_one_row_and_its_file(live_index, tmp_path):
    """Two clients send the same new file at once: one stores it, the other is told it is
    already there (after pyramid_retry's second attempt), and the file stays on disk."""
    import base64
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from .conftest import make_sdist, upload_fields

    filename, content = make_sdist(PROJECT, "3.0", payload="raced")
    auth = base64.b64encode(f"__token__:{live_index.token}".encode()).decode()

    def send(_):
        return requests.post(
            live_index.url + "/legacy/",
            data=upload_fields(PROJECT, "3.0", filename, content),
            files={"content": (filename, content, "application/octet-stream")},
            headers={"Authorization": f"Basic {auth}"},
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(send, range(2)))
    assert [r.status_code for r in responses] == [200, 200], [r.reason for r in responses]
    files = live_index.json(f"/pypi/{PROJECT}/3.0/json")["urls"]
    assert [f["filename"] for f in files] == [filename]
    sha = hashlib.sha256(content).hexdigest()
    assert (live_index.storage / sha[:2] / sha[2:4] / sha / filename).read_bytes() == content
