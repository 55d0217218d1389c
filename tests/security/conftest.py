"""Helpers for the security tests: raw WSGI requests the way a hostile client sends them."""

from __future__ import annotations

import io
import re
from urllib.parse import quote_from_bytes

import pytest
from pyramid.interfaces import IRoutesMapper


class RawClient:
    """Sends requests with exact bytes in the path, query and body (WebTest would encode them)."""

    def __init__(self, app, extra_environ: dict):
        self.app = app
        self.extra_environ = extra_environ

    def request(
        self,
        method: str,
        path: bytes | str,
        query: bytes | str = b"",
        body: bytes = b"",
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        from webob import Request

        if isinstance(path, str):
            path = path.encode("utf-8")
        if isinstance(query, str):
            query = query.encode("utf-8")
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            # PEP 3333: the raw bytes, each as one latin-1 character.
            "PATH_INFO": path.decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "HTTP_HOST": "localhost",
            "REMOTE_ADDR": "192.0.2.44",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            **self.extra_environ,
        }
        if content_type is not None:
            environ["CONTENT_TYPE"] = content_type
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        return Request(environ).get_response(self.app)


def percent_encode(data: bytes) -> bytes:
    return quote_from_bytes(data, safe="").encode("ascii")


@pytest.fixture
def raw_client(app, testapp) -> RawClient:
    """Raw requests inside the test's rolled-back transaction (as ``testapp``'s)."""
    return RawClient(app, {k: v for k, v in testapp.extra_environ.items() if k != "HTTP_HOST"})


PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}|\*(\w+)")


def placeholders(route) -> list[str]:
    """The names a route's pattern needs, ``{name}``, ``{name:regex}`` and ``*subpath``."""
    return [a or b for a, b in PLACEHOLDER.findall(route.pattern)]


def site_routes(app) -> list:
    """Every route the app registers, but Pyramid's internal ones (static views)."""
    mapper = app.registry.getUtility(IRoutesMapper)
    return [r for r in mapper.get_routes() if not r.name.startswith("__")]
