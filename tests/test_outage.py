"""The database away, against the production server: 503s, cached pages, one log line.

Postgres is cut by stopping a TCP proxy between the server and the database
(and started again on the same port); SQLite is locked by another connection
holding an exclusive lock beyond the retry budget. In WAL mode (the site's) that
lock keeps writers out and no reader: pages are still served, uploads get the
503. Each fault lasts about 10 s.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from pypi_web.models import Package, Release
from pypi_web.outage import OutageLog, database_unavailable, settle_seconds
from pypi_web.packaging.journal import journal

from .test_serve import PRODUCTION_INI, answers, free_port, wait_for

SECRET = "outage-test-secret-0123456789abcdefghijkl"
FAULT_SECONDS = 10.0
WORKERS = 2
BROWSER = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT workers (Linux)")


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a server; ``stop()`` cuts every connection, ``start()``
    listens again on the same port."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            cut, self._sockets = self._sockets, set()
        for sock in cut:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def production_like_ini(directory: Path, **app_settings: str) -> Path:
    """production.ini with a few app settings added (everything else as deployed)."""
    added = "".join(f"{key} = {value}\n" for key, value in app_settings.items())
    ini = directory / "production-outage.ini"
    ini.write_text(PRODUCTION_INI.read_text().replace("[app:main]\n", f"[app:main]\n{added}", 1))
    return ini


@contextlib.contextmanager
def production_server(ini: Path, database_url: str, files: Path, log: Path):
    """pypi-web-serve with ``WORKERS`` workers; yields (port, process)."""
    port = free_port()
    env = {
        **os.environ,
        "PYPI_WEB_DATABASE_URL": database_url,
        "PYPI_WEB_FILES_DIR": str(files),
        "PYPI_WEB_SECRET": SECRET,
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "pypi_web.serve", str(ini), "--listen", f"127.0.0.1:{port}"]
    command += ["--workers", str(WORKERS), "--threads", "4"]
    with log.open("a") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(lambda: process.poll() is not None or answers(port), 60, "the server")
        assert process.poll() is None, log.read_text()
        yield port, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def fetch(port: int, path: str, accept: str = "*/*", data: bytes | None = None, headers=None):
    """(status, headers, body) of one request on a new connection."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Accept": accept, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def upload_request() -> dict:
    boundary = "outageboundary"
    fields = {":action": "file_upload", "name": "outage-demo", "version": "2.0"}
    body = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        'filename="outage_demo-2.0.tar.gz"\r\nContent-Type: application/octet-stream\r\n\r\n'
        f"not really a tarball\r\n--{boundary}--\r\n"
    )
    token = base64.b64encode(b"__token__:pypi-AgEIcHlwaS5vcmcnotarealtoken").decode()
    return {
        "data": body.encode(),
        "headers": {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": f"Basic {token}",
        },
    }


# What is asked during the fault: (label, path, Accept, request options, cached beforehand).
REQUESTS = [
    ("project page (cached)", "/project/outage-demo/", BROWSER, {}, True),
    ("simple page (cached)", "/simple/outage-demo/", "*/*", {}, True),
    ("project page", "/project/outage-other/", BROWSER, {}, False),
    ("JSON API", "/pypi/outage-demo/json", "*/*", {}, False),
    ("simple index", "/simple/", "*/*", {}, False),
    ("upload", "/legacy/", "*/*", upload_request(), False),
]
EXPECTED_503_TYPE = {
    "project page": "text/html",
    "JSON API": "application/json",
    "simple index": "text/plain",
    "upload": "text/plain",
}


def committed_projects(make_session) -> None:
    with make_session() as session:
        for name in ("outage-demo", "outage-other"):
            package = Package(name=name, normalized_name=name, summary="Faults", last_serial=0)
            session.add(package)
            session.add(
                Release(package=package, version="1.0", canonical_version="1", sort_order=0)
            )
            session.flush()
            journal(session, package, "create")
        session.commit()


@contextlib.contextmanager
def database_away(backend: str, database_url: str, proxy: TcpProxy | None):
    """The fault: the proxy stopped (Postgres), an exclusive lock held (SQLite)."""
    if backend == "postgresql":
        proxy.stop()
        try:
            yield
        finally:
            proxy.start()
        return
    locker = sqlite3.connect(make_url(database_url).database, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        locker.execute("ROLLBACK")
        locker.close()


def ask_during(port: int, seconds: float) -> list[tuple[str, int, str, str | None, bool]]:
    """Every kind of request, 4 at a time, for ``seconds``: (label, status, type, ...)."""
    until = time.monotonic() + seconds

    def ask(request):
        label, path, accept, options, _ = request
        found = []
        while time.monotonic() < until:
            status, headers, _ = fetch(port, path, accept, **options)
            found.append(
                (
                    label,
                    status,
                    headers.get_content_type(),
                    headers.get("X-Cache"),
                    headers.get("Retry-After") is not None,
                )
            )
        return found

    with ThreadPoolExecutor(len(REQUESTS)) as pool:
        return [answer for answers in pool.map(ask, REQUESTS) for answer in answers]


def check_answers(backend: str, answered: list) -> None:
    """Cached pages 200, everything else 503 with Retry-After in its client's format
    (on SQLite, whose readers pass a writer's lock, everything but the upload 200)."""
    statuses = collections.Counter((label, status) for label, status, *_ in answered)
    print(f"\n{backend}: {len(answered)} requests in {FAULT_SECONDS:.0f} s: {dict(statuses)}")
    assert not [a for a in answered if a[1] >= 500 and a[1] != 503], statuses
    for label, status, content_type, x_cache, retry_after in answered:
        if label.endswith("(cached)"):
            assert status == 200 and x_cache in ("HIT", "STALE"), (label, status, x_cache)
        elif backend == "sqlite" and label != "upload":
            assert status == 200, (label, status)
        else:
            assert status == 503 and retry_after, (label, status)
            assert content_type == EXPECTED_503_TYPE[label], (label, content_type)
    assert {label for label, *_ in answered} == {label for label, *_ in REQUESTS}


def test_the_database_away_is_503_with_cached_pages_served_and_one_log_line(
    backend, migrated_database_url, session_factory_for, tmp_path
):
    committed_projects(session_factory_for(migrated_database_url))
    proxy = None
    server_url = migrated_database_url
    if backend == "postgresql":
        url = make_url(migrated_database_url)
        proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
        proxy.start()
        server_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    # SQLite: each statement waits 1 s for the lock, and a request 3 attempts
    # (retry.attempts): the 10 s lock is beyond that budget.
    ini = production_like_ini(tmp_path, **{"sqlite.busy_timeout": "1000"})
    log, files = tmp_path / "server.log", tmp_path / "files"
    try:
        with production_server(ini, server_url, files, log) as (port, _):
            for _, path, accept, _, cached in REQUESTS:
                if cached:  # into both workers' caches
                    wait_for(
                        lambda p=path, a=accept: all(
                            fetch(port, p, a)[1].get("X-Cache") == "HIT" for _ in range(8)
                        ),
                        what=f"{path} cached",
                    )
            with database_away(backend, migrated_database_url, proxy):
                answered = ask_during(port, FAULT_SECONDS)
            check_answers(backend, answered)
            # Back without a restart; the log says so once the database has answered a while.
            wait_for(lambda: fetch(port, "/project/outage-other/")[0] == 200, what="recovery")
            wait_for(
                lambda: (
                    fetch(port, "/pypi/outage-demo/json")[0] == 200
                    and "database available again" in log.read_text()
                ),
                seconds=60,
                what="the recovery logged",
            )
    finally:
        if proxy is not None:
            proxy.stop()
    output = log.read_text()
    assert "Traceback" not in output, output
    # One line when it went away and one when it came back, per worker at most.
    assert 1 <= output.count("database unavailable (") <= WORKERS, output
    assert 1 <= output.count("database available again") <= WORKERS, output
    # The refused upload left nothing behind.
    assert [p for p in files.rglob("*") if p.is_file() and p.name != ".place.lock"] == []


@pytest.mark.parametrize(
    ("orig", "unavailable"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("no such table: packages"), False),
        (psycopg.OperationalError("connection refused"), True),
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.UndefinedColumn("column x does not exist"), False),
        (Exception("database is gone"), False),
    ],
)
def test_what_counts_as_the_database_away(orig, unavailable):
    """A fault of the database is a 503; a fault of the code stays a 500 with its traceback."""
    assert database_unavailable(OperationalError("SELECT 1", {}, orig)) is unavailable


def test_a_held_sqlite_lock_is_one_outage_though_reads_succeed_between_its_failures(
    monkeypatch, caplog
):
    # Writes fail one busy-timeout budget apart (3 attempts of 1 s); the reads between succeed.
    settings = {"retry.attempts": "3", "sqlite.busy_timeout": "1000"}
    outage = OutageLog(settle_seconds(settings, "sqlite"))
    clock = [0.0]
    monkeypatch.setattr("pypi_web.outage.time.monotonic", lambda: clock[0])
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    for moment, write_failed in ((0, True), (2.5, False), (3.5, True), (6, False), (7, True)):
        clock[0] = moment
        if write_failed:
            outage.failed(locked)
        else:
            outage.succeeded()
    clock[0] = 12.5
    outage.succeeded()
    messages = [record.getMessage() for record in caplog.records]
    assert [m.split(" (")[0] for m in messages] == ["database unavailable"]
    clock[0] = 13.5
    outage.succeeded()
    assert "database available again (unavailable for 7.0 s: 3 requests answered 503" in (
        caplog.records[-1].getMessage()
    )
    # Postgres fails at once, whatever the settings: its outage is over 2 s after.
    assert settle_seconds(settings, "postgresql") == 2.0
