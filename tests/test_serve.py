"""``pypi-web-serve``: production.ini served by several waitress processes."""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select, text

from pypi_web.models import Package
from pypi_web.packaging.journal import journal

from . import factories

PRODUCTION_INI = Path(__file__).resolve().parent.parent / "production.ini"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_for(condition, seconds: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def start(
    database_url: str, port: int, tmp_path: Path, *options: str, **variables: str
) -> subprocess.Popen:
    env = {
        **os.environ,
        **variables,
        "PYPI_WEB_DATABASE_URL": database_url,
        "PYPI_WEB_FILES_DIR": str(tmp_path / "files"),
        "PYPI_WEB_SECRET": "serve-test-secret-0123456789abcdefghijkl",
    }
    command = [sys.executable, "-m", "pypi_web.serve", str(PRODUCTION_INI)]
    command += ["--listen", f"127.0.0.1:{port}", "--threads", "2", *options]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").exists(), reason="reads worker pids from /proc (Linux)"
)


def test_workers_serve_a_dead_one_is_replaced_and_sigterm_stops_all(
    migrated_database_url, tmp_path
):
    port = free_port()
    server = start(migrated_database_url, port, tmp_path, "--workers", "2")
    try:
        wait_for(lambda: answers(port) and len(children(server.pid)) == 2, what="two workers")
        # Every new connection is answered: no socket is left listening with nobody
        # accepting (the parent's own, after the workers bound theirs).
        for _ in range(20):
            assert get(f"http://127.0.0.1:{port}/simple/") == 200
        first, second = sorted(children(server.pid))
        os.kill(first, signal.SIGKILL)
        replaced = wait_for(
            lambda: (c := children(server.pid)) and first not in c and len(c) == 2 and c,
            what="a replacement worker",
        )
        assert second in replaced
        assert get(f"http://127.0.0.1:{port}/simple/") == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(15) == 0
        assert not answers(port)
    finally:
        if server.poll() is None:
            server.kill()
        _, stderr = server.communicate()
    assert "2 worker(s) x 2 threads on 127.0.0.1:" in stderr
    assert f"worker {first} exited with -9; starting another" in stderr


def test_a_database_behind_the_code_starts_no_worker(empty_database_url, tmp_path):
    port = free_port()
    server = start(empty_database_url, port, tmp_path, "--workers", "2")
    _, stderr = server.communicate(timeout=60)
    assert server.returncode == 2
    # The start-up guard's reason and command, once; then the refusal.
    assert stderr.count("alembic upgrade head") >= 1
    assert "pypi-web-serve: " in stderr and "not started" in stderr
    assert not answers(port)


def test_a_taken_address_is_an_error_naming_it(migrated_database_url, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = start(migrated_database_url, port, tmp_path, "--workers", "2")
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in stderr


def test_bad_arguments_are_refused(tmp_path):
    missing = tmp_path / "nowhere.ini"
    result = subprocess.run(
        [sys.executable, "-m", "pypi_web.serve", str(missing)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert f"{missing}: no such file" in result.stderr


def project_json(port: int, name: str) -> tuple[int, str | None]:
    """(last_serial, X-Cache) of a project's JSON page, over a new connection."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/pypi/{name}/json", timeout=10) as r:
        return json.load(r)["last_serial"], r.headers.get("X-Cache")


def test_every_worker_serves_a_change_committed_elsewhere(
    backend, migrated_database_url, session_factory_for, tmp_path
):
    """Each worker keeps its own page cache; a write from another process reaches all."""
    make_session = session_factory_for(migrated_database_url)
    with make_session() as session:
        package = factories.project(session, "shared-pkg", ["1.0"], files=False)
        journal(session, package, "create")
        session.commit()
    port = free_port()
    server = start(migrated_database_url, port, tmp_path, "--workers", "2")
    try:
        wait_for(lambda: answers(port) and len(children(server.pid)) == 2, what="two workers")
        wait_for(
            lambda: all(project_json(port, "shared-pkg")[1] == "HIT" for _ in range(10)),
            what="both workers' caches to hold the page",
        )
        if backend == "postgresql":
            # Each worker listens on a connection of its own, opened after the fork.
            with make_session() as session:
                listening = session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                    )
                )
            assert listening == 2
        with make_session() as session:
            package = session.scalars(select(Package).where(Package.name == "shared-pkg")).one()
            serial = journal(session, package, "update summary")
            session.commit()
        wait_for(
            lambda: all(project_json(port, "shared-pkg")[0] == serial for _ in range(20)),
            what="every worker to serve the change",
        )
        assert project_json(port, "shared-pkg") == (serial, "HIT")
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)


def slow_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that each send the start of a request's headers, never the end."""
    opened = []
    for n in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(f"GET /?slow={n} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
        opened.append(sock)
    return opened


def trickle(sockets: list[socket.socket], line: int) -> None:
    """One more header line on each: a slowloris client keeps its connections active."""
    for sock in sockets:
        with contextlib.suppress(OSError):  # the server closed it: that is allowed
            sock.sendall(f"X-Slow-{line}: a\r\n".encode())


def test_slow_clients_do_not_starve_real_ones(migrated_database_url, tmp_path):
    # About 200 half-open connections took the site offline with waitress's
    # default connection_limit (100 per worker). production.ini's limits leave
    # room for them; the reverse proxy in front is what stops many more.
    port = free_port()
    server = start(migrated_database_url, port, tmp_path, "--workers", "2")
    slow: list[socket.socket] = []
    try:
        wait_for(lambda: answers(port) and len(children(server.pid)) == 2, 120, "two workers")
        slow = slow_connections(port, 250)
        for line in range(10):
            trickle(slow, line)
            # A generous timeout: a starved server never answers these at all.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/simple/", timeout=15) as page:
                assert page.status == 200
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=15) as page:
                assert page.status == 200
    finally:
        for sock in slow:
            sock.close()
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        server.communicate()


def raw_get(port: int, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """(status, the whole answer) for a request with exactly these headers."""
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(("\r\n".join([*lines, "Connection: close", "", ""])).encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    text = answer.decode("latin-1")
    return int(text.split(" ", 2)[1]), text


def test_production_refuses_hosts_it_does_not_serve(migrated_database_url, tmp_path):
    port = free_port()
    server = start(
        migrated_database_url,
        port,
        tmp_path,
        "--workers",
        "1",
        PYPI_WEB_PUBLIC_URL="https://pypi.example.org",
    )
    try:
        wait_for(lambda: answers(port), 120, what="the server")
        status, answer = raw_get(port, "/simple/", {"Host": "evil.example.net"})
        assert status == 400
        assert "This site does not serve the host 'evil.example.net'" in answer
        # From the trusted proxy (127.0.0.1), X-Forwarded-Host is the Host.
        forwarded = {"Host": "pypi.example.org", "X-Forwarded-Host": "evil.example.net"}
        assert raw_get(port, "/simple/", forwarded)[0] == 400
        # The slash added to /search: a relative redirect WebOb makes absolute.
        status, answer = raw_get(port, "/search", {"Host": "pypi.example.org"})
        assert status == 301
        assert "Location: https://pypi.example.org/search/" in answer
        assert "evil" not in answer
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        server.communicate()


def user_token(database_url: str, tmp_path: Path) -> str:
    """An account and its upload token, made with the operator's command."""
    env = {
        **os.environ,
        "PYPI_WEB_DATABASE_URL": database_url,
        "PYPI_WEB_FILES_DIR": str(tmp_path / "files"),
        "PYPI_WEB_SECRET": "serve-test-secret-0123456789abcdefghijkl",
    }
    command = [sys.executable, "-m", "pypi_web.accounts.cli", "create", str(PRODUCTION_INI)]
    result = subprocess.run(
        [*command, "killed", "--no-password", "--token"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def big_upload(port: int, token: str, version: str) -> threading.Thread:
    """An 80 MB sdist posted in a thread (its answer, if any, does not matter)."""
    content = os.urandom(80 * 1024 * 1024)
    boundary = "killedboundary"
    fields = {
        ":action": "file_upload",
        "metadata_version": "2.1",
        "name": "killed",
        "version": version,
        "filetype": "sdist",
        "pyversion": "source",
        "sha256_digest": hashlib.sha256(content).hexdigest(),
    }
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="killed-{version}.tar.gz"\r\nContent-Type: application/octet-stream\r\n\r\n'
    )
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    credentials = base64.b64encode(f"__token__:{token}".encode()).decode()

    def post():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection.request(
                "POST",
                "/legacy/",
                body=body,
                headers={
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Authorization": f"Basic {credentials}",
                },
            )
            connection.getresponse().read()
        connection.close()

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def incoming(files: Path) -> list[str]:
    directory = files / ".incoming"
    return (
        [p.name for p in directory.iterdir() if not p.name.startswith(".")]
        if directory.is_dir()
        else []
    )


def kill_mid_upload(port: int, token: str, files: Path, version: str, kill) -> list[str]:
    """Kill (``kill()``) while an upload's temporary file exists; the files there then."""
    for attempt in range(5):
        upload = big_upload(port, token, f"{version}.{attempt}")
        # waitress has the whole body before the site reads it: the temporary
        # file lives while the site copies and hashes it, then is gone.
        while upload.is_alive() and not (caught := incoming(files)):
            time.sleep(0.002)
        if caught:
            kill()
            upload.join(60)
            return caught
        upload.join(60)
    raise AssertionError("no upload was caught in flight")


def test_uploads_killed_mid_way_leave_no_temporary_file(migrated_database_url, tmp_path):
    token = user_token(migrated_database_url, tmp_path)
    files = tmp_path / "files"
    port = free_port()
    server = start(migrated_database_url, port, tmp_path, "--workers", "1")
    try:
        wait_for(lambda: answers(port) and len(children(server.pid)) == 1, 60, "the worker")
        # A worker killed: the server replaces it and removes what it left.
        worker = next(iter(children(server.pid)))
        caught = kill_mid_upload(port, token, files, "1", lambda: os.kill(worker, signal.SIGKILL))
        assert all(f"-{worker}-" in name for name in caught)
        wait_for(lambda: not incoming(files), what="the dead worker's files removed")
        wait_for(lambda: answers(port) and children(server.pid), what="a new worker")
        # The whole server killed: its workers' files stay until the next start.
        everything = [server.pid, *children(server.pid)]

        def kill_server():
            for pid in everything:
                os.kill(pid, signal.SIGKILL)

        kill_mid_upload(port, token, files, "2", kill_server)
        _, first_stderr = server.communicate(timeout=30)
        wait_for(lambda: not answers(port), what="the killed server gone")
        assert incoming(files)
        server = start(migrated_database_url, port, tmp_path, "--workers", "1")
        wait_for(lambda: answers(port), 60, "the restarted server")
        assert incoming(files) == []
        assert get(f"http://127.0.0.1:{port}/simple/") == 200
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            _, stderr = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in children(server.pid):
                os.kill(pid, signal.SIGKILL)
            server.kill()
            _, stderr = server.communicate(timeout=30)
    # Each removal said once: by the server for its dead worker, then at the new start.
    assert "removed 1 temporary file(s) left by interrupted uploads" in first_stderr
    assert "temporary file(s) left by interrupted uploads" in stderr


def test_the_loaded_app_is_frozen_out_of_the_collector_before_the_workers_fork(monkeypatch):
    from pypi_web import serve

    freeze_counts = []
    monkeypatch.setattr(
        serve.Supervisor, "run", lambda self: freeze_counts.append(gc.get_freeze_count()) or 0
    )
    app = {"loaded": ["routes", "templates"]}  # tracked by the collector, as the app's objects are
    gc.unfreeze()
    try:
        assert serve.serve(app, {"listen": f"127.0.0.1:{free_port()}"}, workers=1, quiet=True) == 0
    finally:
        gc.unfreeze()
    assert freeze_counts and freeze_counts[0] > 0
