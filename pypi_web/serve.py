"""``pypi-web-serve``: the site on waitress, in one process per CPU.

    pypi-web-serve production.ini [--workers N] [--listen HOST:PORT] [--threads T]

waitress runs a process's requests in threads that share one GIL, so one
process uses about one core. This runs N waitress processes (workers), by
default one per CPU, with the ``[server:main]`` settings of the ini file
(threads, proxy headers, body limits...). Each worker listens on the same
address with SO_REUSEPORT and the kernel spreads connections between them
(where SO_REUSEPORT is missing, they share one socket bound before the fork).

The application is loaded once, in the parent, before any worker starts: a
refusal to start (a schema behind the code, a missing secret) is reported
once, with its reason, and no worker is started. The workers are forked from
it (templates compiled once, memory shared) with no database connection:
each opens its own. A worker that dies is replaced; a worker that cannot
start (cannot bind its socket), or workers dying too often, stop the whole
server with an error. SIGTERM or SIGINT stops the workers and then the parent.
The temporary files of a worker's uploads in flight when it died are removed
(pypi_web.files); loading the app removes those a killed server left.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

import plaster
import waitress
from pyramid.exceptions import ConfigurationError
from sqlalchemy.exc import OperationalError
from waitress.adjustments import Adjustments

from pypi_web.config import ConfigError
from pypi_web.migrations.guard import SchemaMismatchError

log = logging.getLogger(__name__)

# Settings of [server:main] that only pserve reads, or that name the address
# (given to waitress as bound sockets instead).
NOT_FOR_WAITRESS = ("use", "listen", "host", "port", "unix_socket")
# A worker's exit status when it could not start (it is not replaced: the server stops).
START_FAILED = 3
# More replacements than this within RESTART_WINDOW seconds: something is wrong.
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0


class ServeError(Exception):
    """The server cannot run; the message says why."""


class WorkerStartError(Exception):
    """A worker could not start serving (another worker would fail alike)."""


def listening_sockets(adjustments: Adjustments, reuse_port: bool) -> list[socket.socket]:
    """Bound, listening sockets for every address of ``listen``."""
    sockets = []
    for family, socktype, proto, sockaddr in adjustments.listen:
        sock = socket.socket(family, socktype, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            # As waitress does: "*" gives an IPv4 and an IPv6 socket on the same port.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.bind(sockaddr)
        except OSError as exc:
            sock.close()
            for other in sockets:
                other.close()
            raise ServeError(
                f"cannot listen on {sockaddr[0]}:{sockaddr[1]}: {exc.strerror}"
            ) from exc
        sock.listen(adjustments.backlog)
        sockets.append(sock)
    return sockets


class Supervisor:
    """Forks the workers, replaces those that die, stops them all on a signal."""

    def __init__(
        self,
        serve_worker: Callable[[], None],
        workers: int,
        worker_exited: Callable[[int], None] = lambda pid: None,
    ):
        self.serve_worker = serve_worker
        self.workers = workers
        self.worker_exited = worker_exited
        self.pids: set[int] = set()
        self.restarts: list[float] = []
        self.stopping = False

    def _fork(self) -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
                self.serve_worker()
            except WorkerStartError as exc:
                log.error("worker %d could not start: %s", os.getpid(), exc)
                code = START_FAILED
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        self.pids.add(pid)

    def _stop(self, signum=None, frame=None) -> None:
        self.stopping = True
        for pid in list(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                self.pids.discard(pid)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for _ in range(self.workers):
            self._fork()
        failure = 0
        while self.pids:
            try:
                pid, status = os.wait()  # retried after a signal handler (PEP 475)
            except ChildProcessError:
                break
            ours = pid in self.pids
            self.pids.discard(pid)
            if ours:
                self.worker_exited(pid)
            if not ours or self.stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW]
            if code == START_FAILED or len(self.restarts) >= MAX_RESTARTS:
                reason = "could not start" if code == START_FAILED else "exited too often"
                log.error("worker %d %s (status %d): stopping the server", pid, reason, code)
                failure = 1
                self._stop()
                continue
            log.warning("worker %d exited with %d; starting another", pid, code)
            self.restarts.append(now)
            self._fork()
        return failure


def close_connections(app) -> None:
    """Close the connections loading the app opened (the schema check's): none is
    shared with the workers, each opens its own."""
    registry = getattr(app, "registry", None)
    engine = registry.get("dbengine") if registry is not None else None
    if engine is not None:
        engine.dispose()
    close_cache = getattr(app, "close", None)  # the page cache's connections
    if close_cache is not None:
        close_cache()


def worker_exited(app) -> Callable[[int], None]:
    """What to clean up after a worker: the temporary files of its unfinished uploads."""
    registry = getattr(app, "registry", None)
    storage = registry.get("file_storage") if registry is not None else None
    if storage is None:
        return lambda pid: None

    def clean(pid: int) -> None:
        try:
            storage.remove_stale_incoming(pid=pid)
        except OSError:
            log.exception("could not remove the temporary files of worker %d", pid)

    return clean


def serve(app, server_settings: dict, workers: int, quiet: bool = False) -> int:
    """Serve ``app`` with waitress in ``workers`` processes; returns the exit status."""
    settings = {k: v for k, v in server_settings.items() if k not in NOT_FOR_WAITRESS}
    listen = server_settings.get("listen") or "{}:{}".format(
        server_settings.get("host", "0.0.0.0"), server_settings.get("port", "8080")
    )
    try:
        adjustments = Adjustments(listen=listen, **settings)
    except (TypeError, ValueError) as exc:
        raise ServeError(f"bad server settings: {exc}") from exc
    reuse_port = hasattr(socket, "SO_REUSEPORT") and workers > 1
    # Bound here first, so that a taken address is reported at once. With
    # SO_REUSEPORT each worker then binds its own and these are closed: a
    # socket left listening here would be handed connections nobody accepts.
    shared = listening_sockets(adjustments, reuse_port)
    if reuse_port:
        for sock in shared:
            sock.close()
        shared = []
    close_connections(app)

    def serve_worker() -> None:
        sockets = shared
        if reuse_port:
            # A socket of its own: the kernel balances connections between them.
            try:
                sockets = listening_sockets(adjustments, reuse_port=True)
            except ServeError as exc:
                raise WorkerStartError(str(exc)) from exc
        # Under load the queue is deep on purpose: no warning per request.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        waitress.serve(app, sockets=sockets, _quiet=quiet, **settings)

    if not quiet:
        addresses = ", ".join(f"{a[3][0]}:{a[3][1]}" for a in adjustments.listen)
        print(
            f"pypi-web-serve: {workers} worker(s) x {adjustments.threads} threads on {addresses}",
            file=sys.stderr,
            flush=True,
        )
    # What is loaded now (routes, templates, mappers) lives as long as the process.
    # Frozen, the collector no longer walks it each time a large page's objects
    # set off a full collection (the 2,000-version pages' p99 was twice their p50),
    # and a forked worker does not copy the memory pages holding it.
    gc.freeze()
    try:
        return Supervisor(serve_worker, workers, worker_exited(app)).run()
    finally:
        for sock in shared:
            sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pypi-web-serve", description=__doc__.splitlines()[0])
    parser.add_argument("config", help="the ini file, e.g. production.ini")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes (default: one per CPU, %(default)s here)",
    )
    parser.add_argument("--listen", help="HOST:PORT, instead of the ini file's listen")
    parser.add_argument("--threads", type=int, help="threads per worker, instead of the ini's")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if not os.path.exists(args.config):
        parser.error(f"{args.config}: no such file")
    loader = plaster.get_loader(args.config, protocols=["wsgi"])
    loader.setup_logging()
    server_settings = dict(loader.get_settings("server:main"))
    if args.listen:
        server_settings["listen"] = args.listen
    if args.threads:
        server_settings["threads"] = str(args.threads)
    try:
        app = loader.get_wsgi_app("main")
    except SchemaMismatchError:
        # The guard has said why and what to run; no worker is started.
        print(f"pypi-web-serve: {args.config}: not started", file=sys.stderr)
        return 2
    except (ConfigError, ConfigurationError) as exc:
        print(f"pypi-web-serve: {args.config}: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:
        print(
            f"pypi-web-serve: {args.config}: the database is unreachable: {exc.orig}",
            file=sys.stderr,
        )
        return 2
    try:
        return serve(app, server_settings, args.workers)
    except ServeError as exc:
        print(f"pypi-web-serve: {args.config}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
