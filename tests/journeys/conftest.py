"""The journeys' index: a real server process per backend and configuration, and real clients.

* ``production``: ``pypi-web-serve production.ini`` (its workers, its page
  cache), the values from PYPI_WEB_DATABASE_URL / PYPI_WEB_FILES_DIR /
  PYPI_WEB_SECRET, behind a TLS-terminating proxy (tests/journeys/proxy.py)
  that sends the X-Forwarded-* headers production.ini trusts from 127.0.0.1.
  The browser goes through the proxy (https, Secure cookies); the command-line
  clients talk to the server itself over loopback, as a build machine inside
  the network would.
* ``development``: ``pserve`` on development.ini's own ``[app:main]`` (debug
  toolbar, template reload), on a free port.

Each backend and configuration has one server and one database, shared by
every journey: each journey publishes projects of its own names. The
distributions are built once per session. Every client runs with a clean
environment (no PIP_/UV_/POETRY_/PDM_/HATCH_/TWINE_ settings of the machine,
config and caches in temporary directories), so the only index any of them
asks is the journeys' server.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..chromium import recording_page, take_screenshots
from ..conftest import skip_or_fail
from .proxy import TlsProxy, self_signed_certificate

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "journeys-only-session-secret-0123456789abcdef"
PASSWORD = "a long journey passphrase"
CONFIGS = ("production", "development")
CLIENT_PREFIXES = ("PIP_", "UV_", "POETRY_", "PDM_", "HATCH_", "TWINE_", "PYTHON_KEYRING")
ARTIFACTS = ROOT / "test-artifacts"


def run(command, *, env=None, cwd=None, check=True, timeout=300) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tool(name: str) -> Path:
    """A client's command, installed by the testing extra into this virtualenv."""
    path = BIN / name
    if not path.exists():
        skip_or_fail(f"{name} is not installed (pip install -e '.[testing]' installs it)")
    return path


# ---- the server ----


@dataclass
class JourneyServer:
    config: str
    backend: str
    url: str  # what the command-line clients use
    site: str  # what the browser uses (https through the proxy in production)
    ini: Path
    env: dict[str, str]
    files: Path
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def simple(self) -> str:
        return self.url + "/simple/"

    @property
    def upload_url(self) -> str:
        return self.url + "/legacy/"

    def get(self, path: str, accept: str | None = None) -> tuple[int, str, bytes]:
        request = urllib.request.Request(self.url + path, headers={"Accept": accept or "*/*"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers.get_content_type(), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get_content_type(), error.read()

    def json(self, path: str) -> dict:
        status, _, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def user_with_token(self, username: str) -> str:
        """An account and its API token, made by the operator's command (no browser)."""
        if username in self.tokens:
            return self.tokens[username]
        result = run(
            [BIN / "pypi-web-user", "create", self.ini, username, "--no-password", "--token"],
            env=self.env,
        )
        token = result.stdout.strip().splitlines()[-1]
        assert token.startswith("pypi-"), result
        self.tokens[username] = token
        return token


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/_status/schema", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the server did not answer within 60 s:\n{log.read_text()}")


def development_ini(directory: Path, port: int, db_url: str, extra: str = "") -> Path:
    """development.ini's app on the journeys' database, served on a free port.

    The database and the files directory are stated here: development.ini
    states its own, and an environment variable never replaces a value the
    file states (pypi_web.config). Its [server:main] says 6543.
    """
    ini = directory / "development-journeys.ini"
    ini.write_text(
        "[app:main]\n"
        f"use = config:{ROOT / 'development.ini'}#main\n"
        f"sqlalchemy.url = {db_url}\n"
        f"files.storage_dir = {directory / 'files'}\n{extra}\n"
        "[server:main]\n"
        "use = egg:waitress#main\n"
        f"listen = 127.0.0.1:{port}\n"
    )
    return ini


@contextlib.contextmanager
def serving(
    config: str, backend: str, root: Path, db_url: str, settings: dict[str, str] | None = None
) -> Iterator[JourneyServer]:
    """The server process (and, for production, the TLS proxy in front of it).

    ``settings``: environment variables for production.ini, lines of the
    development ini for development.ini (key = value).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYPI_WEB_DATABASE_URL": db_url,
        "PYPI_WEB_FILES_DIR": str(root / "files"),
        "PYPI_WEB_SECRET": SECRET,
        "PYTHONUNBUFFERED": "1",
    }
    settings = settings or {}
    if config == "production":
        env.update(settings)
        ini = ROOT / "production.ini"
        command = [BIN / "pypi-web-serve", ini, "--listen", f"127.0.0.1:{port}"]
    else:
        ini = development_ini(
            root, port, db_url, "".join(f"{k} = {v}\n" for k, v in settings.items())
        )
        command = [BIN / "pserve", ini]
    log = root / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(c) for c in command], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_serving(url, process, log)
        with contextlib.ExitStack() as stack:
            site = url
            if config == "production":
                certificate = self_signed_certificate(root)
                if certificate is None:
                    skip_or_fail("the openssl command is needed for the journeys' TLS proxy")
                site = stack.enter_context(TlsProxy(*certificate, port)).url
            yield JourneyServer(config, backend, url, site, ini, env, root / "files", log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    output = log.read_text()
    assert "Traceback" not in output, f"the {config} server logged an error:\n{output}"


class JourneyServers:
    """One server per configuration on this backend, started when a journey first needs it."""

    def __init__(self, backend: str, database_factory, tmp_path_factory):
        self.backend = backend
        self.database_factory = database_factory
        self.tmp_path_factory = tmp_path_factory
        self.servers: dict[str, JourneyServer] = {}
        self.stack = contextlib.ExitStack()

    def get(self, config: str) -> JourneyServer:
        if config not in self.servers:
            from ..conftest import upgrade

            root = self.tmp_path_factory.mktemp(f"journeys-{config}-{self.backend}")
            db_url = self.database_factory.create(f"journeys_{config}")
            upgrade(db_url)
            self.servers[config] = self.stack.enter_context(
                serving(config, self.backend, root, db_url)
            )
        return self.servers[config]


@pytest.fixture(scope="session")
def journey_servers(backend, database_factory, tmp_path_factory) -> Iterator[JourneyServers]:
    """Per backend (so stopped before its databases are dropped), shared by every journey."""
    servers = JourneyServers(backend, database_factory, tmp_path_factory)
    with servers.stack:
        yield servers


@pytest.fixture(params=CONFIGS)
def journey_server(request, journey_servers) -> JourneyServer:
    return journey_servers.get(request.param)


# ---- the browser ----


@pytest.fixture
def site_page(browser_context, journey_server, request):
    """A fresh page on the journeys' site (through the proxy in production)."""
    with recording_page(browser_context, journey_server.site, request.node.nodeid) as page:
        yield page


@pytest.fixture
def shoot(journey_server):
    """``shoot(page, "publish-1-register")``: desktop and phone screenshots of a step."""

    def take(page, step: str):
        take_screenshots(page, f"journey-{step}-{journey_server.config}-{journey_server.backend}")

    return take


def visit(page, url: str, where: str, status: int = 200):
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == status, (where, response and response.status)
    page.problems.assert_clean(where)
    return response


def register(page, server: JourneyServer, username: str) -> None:
    """Register in the browser, as a visitor does: from the header's link."""
    visit(page, server.site + "/", "home page")
    page.get_by_role("link", name="Register").click()
    page.wait_for_load_state("load")
    page.fill("#username", username)
    page.fill("#display_name", username.title())
    page.fill("#email", f"{username}@example.org")
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Create account").click()
    assert page.url == server.site + "/account/", page.url
    page.problems.assert_clean("account page after registering")
    assert f"Welcome, {username}!" in page.inner_text("main")


def create_token(page, description: str) -> str:
    """On the account page: a new API token, whose secret is shown once."""
    page.fill("#token-description", description)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Create token").click()
    page.problems.assert_clean("new token page")
    secret = page.inner_text("#token-secret")
    assert secret.startswith("pypi-"), secret
    return secret


def log_in(page, server: JourneyServer, username: str) -> None:
    visit(page, server.site + "/account/login/", "login page")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Log in").click()
    assert page.url == server.site + "/account/", page.url


# ---- the clients ----


@pytest.fixture
def client_env(tmp_path) -> dict[str, str]:
    """The environment every client runs in: no settings of this machine's, caches in tmp."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLIENT_PREFIXES)}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CONFIG_DIRS=str(home / ".config-system"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local/share"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_CACHE_DIR="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        UV_PYTHON_DOWNLOADS="never",
        POETRY_CONFIG_DIR=str(home / "poetry-config"),
        POETRY_CACHE_DIR=str(home / "poetry-cache"),
        POETRY_DATA_DIR=str(home / "poetry-data"),
        PDM_CHECK_UPDATE="false",
        PDM_USE_VENV="false",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        PYTHONDONTWRITEBYTECODE="1",
        NO_COLOR="1",
    )
    return env


def twine_upload(server: JourneyServer, token: str, files, env) -> subprocess.CompletedProcess:
    return run(
        [tool("twine"), "upload", "--non-interactive", "--disable-progress-bar"]
        + ["--repository-url", server.upload_url, "-u", "__token__", "-p", token]
        + [str(f) for f in files],
        env=env,
    )


@dataclass
class Installer:
    """A fresh virtualenv to install into, with pip or with uv."""

    python: Path
    env: dict[str, str]

    def _install(self, command: list, server: JourneyServer, args, check: bool):
        command = [*command, "--python", self.python, *args, "--index-url", server.simple]
        return run(command, env=self.env, check=check)

    def pip(self, server: JourneyServer, *args: str, check=True):
        # This virtualenv's pip, installing into the other one (pip --python).
        return self._install([sys.executable, "-m", "pip"], server, args, check)

    def uv(self, server: JourneyServer, *args: str, check=True):
        return self._install([tool("uv"), "pip", args[0], "--no-config"], server, args[1:], check)

    def imported(self, module: str) -> str:
        return run([self.python, "-c", f"import {module}; print({module}.VALUE)"]).stdout.strip()


@pytest.fixture
def pip_venv(tmp_path, client_env) -> Installer:
    path = tmp_path / "pip-venv"
    run([sys.executable, "-m", "venv", "--without-pip", path])
    return Installer(path / "bin" / "python", client_env)


@pytest.fixture
def uv_venv(tmp_path, client_env) -> Installer:
    path = tmp_path / "uv-venv"
    run([tool("uv"), "venv", "--python", sys.executable, path], env=client_env)
    return Installer(path / "bin" / "python", client_env)


# ---- the distributions, built once per session ----


@dataclass
class Project:
    name: str
    version: str
    backend: str = "setuptools"
    summary: str = "A project published by the journey tests"
    classifiers: list[str] = field(default_factory=list)

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")

    @property
    def value(self) -> str:
        return f"{self.name} {self.version}"


BACKENDS = {
    "setuptools": ("setuptools>=77", "setuptools.build_meta"),
    "hatchling": ("hatchling", "hatchling.build"),
    "poetry-core": ("poetry-core>=2", "poetry.core.masonry.api"),
}
README = """# {name}

A project for the **journey tests**: it is built, published and installed
by the real clients.

## Usage

```python
import {module}
print({module}.VALUE)
```
"""


def write_project(root: Path, project: Project) -> None:
    requires, build_backend = BACKENDS[project.backend]
    package = root / "src" / project.module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"VALUE = {project.value!r}\n")
    (root / "README.md").write_text(README.format(name=project.name, module=project.module))
    (root / "LICENSE").write_text("MIT License\n\nCopyright (c) the journey tests\n")
    classifiers = json.dumps(project.classifiers)
    extra = ""
    if project.backend == "hatchling":
        extra = f'\n[tool.hatch.build.targets.wheel]\npackages = ["src/{project.module}"]\n'
    elif project.backend == "poetry-core":
        extra = f'\n[tool.poetry]\npackages = [{{ include = "{project.module}", from = "src" }}]\n'
    (root / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["{requires}"]\nbuild-backend = "{build_backend}"\n\n'
        f'[project]\nname = "{project.name}"\nversion = "{project.version}"\n'
        f'description = "{project.summary}"\nreadme = "README.md"\n'
        'license = "MIT"\nlicense-files = ["LICENSE"]\nrequires-python = ">=3.9"\n'
        f"classifiers = {classifiers}\n"
        '[project.urls]\nSource = "https://example.org/journeys"\n' + extra
    )


JOURNEY_PROJECTS = [
    Project(
        "journey-publish",
        "1.0",
        classifiers=["Programming Language :: Python :: 3", "Topic :: Software Development"],
    ),
    Project("journey-maintain", "1.0"),
    Project("journey-maintain", "2.0"),
    Project(
        "journey-find",
        "1.0",
        summary="Finds the marmalade in any cupboard",
        classifiers=["Topic :: Utilities", "Programming Language :: Python :: 3"],
    ),
    Project("journey-consume", "1.0"),
    Project("journey-private", "1.0"),
    Project("journey-uv", "1.0", backend="hatchling"),
    Project("journey-poetry", "1.0", backend="poetry-core"),
    Project("journey-hatch", "1.0", backend="hatchling"),
    Project("journey-pdm", "1.0", backend="hatchling"),
]


@dataclass
class Built:
    project: Project
    root: Path
    sdist: Path
    wheel: Path

    @property
    def files(self) -> list[Path]:
        return [self.sdist, self.wheel]


@pytest.fixture(scope="session")
def journey_dists(tmp_path_factory) -> dict[tuple[str, str], Built]:
    """(name, version) -> the sdist and wheel ``python -m build`` made (offline, in parallel)."""

    def build(project: Project) -> Built:
        root = tmp_path_factory.mktemp(f"{project.name}-{project.version}")
        write_project(root, project)
        # --no-isolation: the build backends come from the testing extra, not the network.
        run([sys.executable, "-m", "build", "--no-isolation", "--outdir", "dist", "."], cwd=root)
        dist = root / "dist"
        return Built(project, root, *sorted(dist.iterdir(), key=lambda p: p.suffix == ".whl"))

    with ThreadPoolExecutor(max_workers=2) as pool:
        built = list(pool.map(build, JOURNEY_PROJECTS))
    return {(b.project.name, b.project.version): b for b in built}


@pytest.fixture(scope="session")
def client_versions() -> dict[str, str]:
    """The version of each client the journeys ran, also written to test-artifacts/."""
    commands = {
        "twine": [BIN / "twine", "--version"],
        "pip": [sys.executable, "-m", "pip", "--version"],
        "uv": [BIN / "uv", "--version"],
        "poetry": [BIN / "poetry", "--version"],
        "hatch": [BIN / "hatch", "--version"],
        "pdm": [BIN / "pdm", "--version"],
        "pip-compile": [BIN / "pip-compile", "--version"],
    }
    versions = {}
    for name, command in commands.items():
        if Path(command[0]).exists():
            result = run(command, check=False, env={**os.environ, "NO_COLOR": "1"})
            versions[name] = (result.stdout or result.stderr).strip().splitlines()[0]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "journeys-clients.txt").write_text(
        "".join(f"{name}: {version}\n" for name, version in versions.items())
    )
    return versions
