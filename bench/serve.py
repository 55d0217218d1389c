"""Serve pypi_web (or a hello-world Pyramid app) with waitress, for bench/run.py.

    python bench/serve.py --db-url URL --port 8100 [--processes 2] [--threads 4] [--no-page-cache]
    python bench/serve.py --hello --port 8101 [--processes 2]
    bench/.venv-peer/bin/python bench/serve.py --peer DIR --port 8102

With --processes N > 1, N waitress processes each bind the same port with
SO_REUSEPORT and the kernel spreads connections between them: the way to use
every core with waitress, whose threads share one GIL. Both apps get the
same server settings, so hello-world is the ceiling of the pages.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

import waitress

PRODUCTION_INI = Path(__file__).resolve().parent.parent / "production.ini"


def hello_app():
    from pyramid.config import Configurator
    from pyramid.response import Response

    def hello(request):
        return Response(b"Hello, world!", content_type="text/plain")

    with Configurator() as config:
        config.add_route("hello", "/")
        config.add_view(hello, route_name="hello")
    return config.make_wsgi_app()


def site_app(db_url: str, page_cache: bool = True):
    # production.ini as deployed: its settings (page cache, precompiled
    # templates, the counts' cache), with the database, file directory and
    # secret from the environment as pypi_web.config reads them.
    from pyramid.paster import get_appsettings

    from pypi_web import main

    os.environ["PYPI_WEB_DATABASE_URL"] = db_url
    os.environ["PYPI_WEB_FILES_DIR"] = tempfile.mkdtemp(prefix="pypi-web-bench-files-")
    os.environ["PYPI_WEB_SECRET"] = "benchmark-only-session-secret-0123456789"
    settings = dict(get_appsettings(str(PRODUCTION_INI), "main"))
    if not page_cache:
        settings["page_cache.max_bytes"] = "0"
    return main({"__file__": str(PRODUCTION_INI), "here": str(PRODUCTION_INI.parent)}, **settings)


def peer_app(directory: str):
    # pypiserver in its fastest set-up: the cached backend (a listing and
    # digests kept in memory, invalidated by watchdog), no authentication,
    # no fallback redirect to pypi.org.
    import pathlib

    import pypiserver

    return pypiserver.app(
        roots=[pathlib.Path(directory)],
        backend_arg="cached-dir",
        hash_algo="sha256",
        authenticate=[],
        password_file=".",
        disable_fallback=True,
    )


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    return sock


def serve(args) -> None:
    # Under a load generator the queue is deep on purpose: no warning per request.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # Built in each process (after the fork): no connection pool is shared.
    if args.hello:
        app = hello_app()
    elif args.peer:
        app = peer_app(args.peer)
    else:
        app = site_app(args.db_url, page_cache=not args.no_page_cache)
    waitress.serve(
        app,
        sockets=[listening_socket(args.port)],
        threads=args.threads,
        connection_limit=1000,
        backlog=1024,
        ident="waitress",
        _quiet=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url")
    parser.add_argument("--hello", action="store_true")
    parser.add_argument("--peer", metavar="DIR", help="serve DIR with pypiserver instead")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument(
        "--no-page-cache", action="store_true", help="every page made afresh (a first view)"
    )
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    if not (args.hello or args.peer or args.db_url):
        parser.error("give --db-url URL, --hello or --peer DIR")
    children = []
    for _ in range(args.processes - 1):
        pid = os.fork()
        if pid == 0:
            serve(args)
            os._exit(0)
        children.append(pid)

    def stop(signum, frame):
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    serve(args)


if __name__ == "__main__":
    main()
