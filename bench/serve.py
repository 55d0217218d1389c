"""Serve pypi_web (or a hello-world Pyramid app) with waitress, for bench/run.py.

    python bench/serve.py --db-url URL --port 8100 [--processes 2] [--threads 4] [--no-page-cache]
    python bench/serve.py --hello --port 8101 [--processes 2]
    python bench/serve.py --db-url URL --port 8103 --server gunicorn [--processes 2]
    bench/.venv-peer/bin/python bench/serve.py --peer DIR --port 8102

The site and hello-world are served as production serves the site: by
pypi-web-serve's supervisor (pypi_web/serve.py) with production.ini's server
settings, in --processes waitress workers, each on its own SO_REUSEPORT
socket (the kernel spreads connections between them): the way to use every
core with waitress, whose threads share one GIL. Both apps get the same
server settings, so hello-world is the ceiling of the pages. pypiserver runs
in its own venv without pypi_web: the same waitress settings, forked here.

``--server gunicorn`` serves the same app with gunicorn instead, for the
comparison of bench/servers.py: gthread workers (--processes x --threads),
the app loaded once before the fork (preload_app), each worker disposing of
the engine's inherited connections (post_fork) and the parent removing a dead
worker's upload files (child_exit), as pypi-web-serve does.
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


def site_app(
    db_url: str,
    page_cache: bool = True,
    invalidation: str | None = None,
    upstream: str | None = None,
):
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
    if invalidation:
        settings["page_cache.invalidation"] = invalidation
    if upstream:
        # An upstream's pages cached for the whole run: what a cached upstream page costs.
        settings.update({"pypi_web.upstreams": upstream, "upstream.ttl_seconds": "86400"})
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


def production_server_settings(port: int, threads: int, as_configured: bool) -> dict[str, str]:
    """production.ini's [server:main] (proxy headers, body limit...) on a loopback port;
    unless ``as_configured``, with a deeper backlog and more connections for wrk."""
    from plaster import get_loader

    settings = dict(get_loader(str(PRODUCTION_INI), protocols=["wsgi"]).get_settings("server:main"))
    settings.update(listen=f"127.0.0.1:{port}", threads=str(threads))
    if not as_configured:
        # Under a load generator the backlog is deep on purpose.
        settings.update(connection_limit="1000", backlog="1024", ident="waitress")
    return settings


def serve_with_pypi_web_serve(app, args) -> int:
    """The production set-up: pypi-web-serve's supervisor, one waitress per worker."""
    from pypi_web.serve import serve

    settings = production_server_settings(args.port, args.threads, args.as_configured)
    return serve(app, settings, args.processes, True)


def serve_with_gunicorn(app, args) -> int:
    """The same app on gunicorn's gthread workers, loaded before the fork."""
    from gunicorn.app.base import BaseApplication

    from pypi_web.serve import close_connections, worker_exited

    settings = production_server_settings(args.port, args.threads, args.as_configured)
    cleanup = worker_exited(app)
    options = {
        "bind": f"127.0.0.1:{args.port}",
        "workers": args.processes,
        "threads": args.threads,
        "worker_class": "gthread",
        "worker_connections": int(settings["connection_limit"]),
        "backlog": int(settings.get("backlog", 2048)),
        "limit_request_field_size": int(settings["max_request_header_size"]),
        "preload_app": True,
        "accesslog": None,
        "loglevel": "warning",
        "post_fork": lambda server, worker: close_connections(app),
        "child_exit": lambda server, worker: cleanup(worker.pid),
    }

    class Gunicorn(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    close_connections(app)  # the schema check's, before any worker exists
    Gunicorn().run()
    return 0


def serve_peer(args) -> None:
    # pypiserver's venv does not have pypi_web: the same waitress settings and
    # SO_REUSEPORT sockets, forked here.
    def one_process() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", args.port))
        sock.listen(1024)
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        waitress.serve(
            peer_app(args.peer),
            sockets=[sock],
            threads=args.threads,
            connection_limit=1000,
            backlog=1024,
            ident="waitress",
            _quiet=True,
        )

    children = []
    for _ in range(args.processes - 1):
        pid = os.fork()
        if pid == 0:
            one_process()
            os._exit(0)
        children.append(pid)

    def stop(signum, frame):
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    one_process()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url")
    parser.add_argument("--hello", action="store_true")
    parser.add_argument("--peer", metavar="DIR", help="serve DIR with pypiserver instead")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument(
        "--no-page-cache", action="store_true", help="every page made afresh (a first view)"
    )
    parser.add_argument(
        "--invalidation", choices=("listen", "query"), help="page_cache.invalidation"
    )
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--server",
        choices=("pypi-web-serve", "gunicorn"),
        default="pypi-web-serve",
        help="the pre-fork server (gunicorn: for the comparison of bench/servers.py)",
    )
    parser.add_argument(
        "--as-configured", action="store_true", help="production.ini's server limits as they are"
    )
    parser.add_argument("--upstream", metavar="URL", help="an upstream index's /simple/ URL")
    args = parser.parse_args()
    if not (args.hello or args.peer or args.db_url):
        parser.error("give --db-url URL, --hello or --peer DIR")
    if args.peer:
        serve_peer(args)
        return 0
    app = (
        hello_app()
        if args.hello
        else site_app(args.db_url, not args.no_page_cache, args.invalidation, args.upstream)
    )
    if args.server == "gunicorn":
        return serve_with_gunicorn(app, args)
    return serve_with_pypi_web_serve(app, args)


if __name__ == "__main__":
    sys.exit(main())
