"""The site as a wheel: built, installed in a fresh virtualenv, migrated and served.

How a container image (or a deploy from this very index) installs it: no
source tree, no alembic.ini, only production.ini in an empty directory and
the environment. The wheel is built from the sdist (as ``python -m build``
does), so both are proved complete. The fresh virtualenv gets the
dependencies from this one (a .pth line, no download) and pypi_web from the
wheel alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import urllib.error
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from pypi_web.migrations import PROJECT_ROOT, SCRIPT_LOCATION, head_revision

from .migrations.conftest import database_revision
from .test_serve import free_port

pytestmark = pytest.mark.slow
REVISIONS = sorted(p.name for p in (SCRIPT_LOCATION / "versions").glob("*.py"))
MIGRATION_FILES = {"env.py", "script.py.mako"} | {f"versions/{name}" for name in REVISIONS}


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """The sdist and the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(PROJECT_ROOT)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def fresh_venv(directory: Path, wheel: Path) -> Path:
    """A virtualenv with pypi_web from ``wheel`` and the rest from this one."""
    venv.create(directory, with_pip=False)
    python = directory / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    return directory / "bin"


def test_the_wheel_and_the_sdist_hold_the_migrations_once(dist):
    wheel = zipfile.ZipFile(dist["wheel"])
    migrations = [n for n in wheel.namelist() if "alembic" in n.split("/")[0:2]]
    assert sorted(migrations) == sorted(f"pypi_web/alembic/{name}" for name in MIGRATION_FILES)
    assert not any(info.external_attr >> 28 == 0o12 for info in wheel.infolist())  # symlinks
    with tarfile.open(dist["sdist"]) as sdist:
        members = sdist.getmembers()
    root = members[0].name.split("/")[0]
    files = [m.name.removeprefix(f"{root}/") for m in members if m.isfile()]
    assert sorted(f for f in files if "alembic/" in f) == sorted(
        f"pypi_web/alembic/{name}" for name in MIGRATION_FILES
    )
    assert "alembic.ini" in files
    assert not any(m.issym() or m.islnk() for m in members)


def test_the_symlink_keeps_the_documented_paths():
    link = PROJECT_ROOT / "alembic"
    assert link.is_symlink()
    assert os.readlink(link) == "pypi_web/alembic"  # relative: any checkout, any place
    assert sorted(p.name for p in (link / "versions").glob("*.py")) == REVISIONS


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Path:
    return fresh_venv(tmp_path_factory.mktemp("venv"), dist["wheel"])


def site_env(database_url: str, directory: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYPI_WEB_DATABASE_URL": database_url,
        "PYPI_WEB_FILES_DIR": str(directory / "files"),
        "PYPI_WEB_SECRET": "wheel-test-secret-0123456789abcdefghijklmnop",
        "PYPI_WEB_INI": "",
    }


def only_an_ini(tmp_path: Path) -> Path:
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    shutil.copy(PROJECT_ROOT / "production.ini", deploy / "production.ini")
    return deploy


def get_home(port: int, server: subprocess.Popen) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
                return response.status
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError("the installed site did not answer within 60 s")


def test_the_installed_wheel_migrates_and_serves_with_only_an_ini_file(
    installed, empty_database_url, tmp_path
):
    deploy = only_an_ini(tmp_path)
    env = site_env(empty_database_url, tmp_path)

    def run(*args):
        return subprocess.run(
            [str(installed / args[0]), *args[1:]], cwd=deploy, env=env, capture_output=True,
            text=True,
        )  # fmt: skip

    where = run("python", "-I", "-c", "import pypi_web; print(pypi_web.__file__)")
    assert where.stdout.startswith(str(installed.parent)), where.stdout + where.stderr
    before = run("pypi-web-db", "status", "production.ini")
    assert before.returncode == 1 and " empty " in before.stdout, before.stdout + before.stderr
    # The site refuses the empty database, naming the command an installed package has.
    refused = run("pypi-web-serve", "production.ini", "--workers", "1")
    assert refused.returncode == 2
    assert f"  pypi-web-db upgrade {deploy / 'production.ini'}\n" in refused.stderr
    assert "alembic.ini" not in refused.stderr
    migrated = run("pypi-web-db", "upgrade", "production.ini")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout == f"Now at {head_revision()} (up to date).\n"
    assert database_revision(empty_database_url) == head_revision()
    after = run("pypi-web-db", "status", "production.ini")
    assert after.returncode == 0, after.stdout + after.stderr
    environment_row = after.stdout.splitlines()[1].split()
    assert environment_row[3:6] == ["up", "to", "date"], after.stdout
    assert environment_row[-2:] == ["none", "ok"], after.stdout
    port = free_port()
    server = subprocess.Popen(
        [str(installed / "pypi-web-serve"), "production.ini", "--workers", "1",
         "--listen", f"127.0.0.1:{port}"],
        cwd=deploy, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert get_home(port, server) == 200
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_an_install_without_its_migrations_says_so(dist, migrated_database_url, tmp_path):
    broken = fresh_venv(tmp_path / "venv", dist["wheel"])
    deploy = only_an_ini(tmp_path)
    # -I: not the checkout's pypi_web, whatever the current directory.
    where = subprocess.run(
        [str(broken / "python"), "-I", "-c", "import pypi_web, pathlib; "
         "print(pathlib.Path(pypi_web.__file__).parent / 'alembic')"],
        cwd=deploy, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(tmp_path / "venv"), where
    shutil.rmtree(Path(where) / "versions")
    env = site_env(migrated_database_url, tmp_path)
    status = subprocess.run(
        [str(broken / "pypi-web-db"), "status", "production.ini"],
        cwd=deploy, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert status.returncode == 2
    assert status.stderr == (
        f"pypi-web-db status: pypi_web: no migrations found at {where} (env.py and "
        "versions/*.py): this copy of the package was built or installed without them; "
        "install it from a wheel or an sdist that has pypi_web/alembic\n"
    )
    serve = subprocess.run(
        [str(broken / "pypi-web-serve"), "production.ini", "--workers", "1"],
        cwd=deploy, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert serve.returncode == 2
    assert f"pypi-web-serve: production.ini: pypi_web: no migrations found at {where}" in (
        serve.stderr
    )
    assert "heads" not in serve.stderr
