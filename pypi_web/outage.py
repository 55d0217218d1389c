"""The database away: a 503 with ``Retry-After`` for every request, never a 500.

A foreseeable fault of the database (the server unreachable, the connection
cut, the pool exhausted, SQLite's write lock held beyond the retry budget)
is not a bug of the site: each request it fails is answered 503 with a
``Retry-After`` and a plain message (an HTML page for browsers, text for the
upload and simple APIs, JSON for the JSON API), and the log gets one line
when it begins and one when it ends, not a traceback per request. Nothing is
switched off meanwhile: every request tries the database again, so the site
recovers the moment the database is back, with no restart.

The page cache (pypi_web.cache) serves the pages it holds while the
database is away, stale if need be (stale-if-error), and tells this module.

``database_unavailable(exc)`` decides what counts. SQL the live schema
refuses (a column dropped under a running release) gets the migrations'
own 503 (pypi_web.migrations.views); everything else stays a 500 with its
traceback (pypi_web.site.views.server_error).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time

import psycopg
from pyramid.response import Response
from pyramid.view import exception_view_config
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, TimeoutError

from pypi_web.models import sqlite_busy_timeout_ms

log = logging.getLogger(__name__)

RETRY_AFTER_SETTING = "database.retry_after"
DEFAULT_RETRY_AFTER = 10
# An outage is over once the database has answered this long after its last failure
# (a database that fails one request in two is still away: one line, not two per request).
SETTLE_SECONDS = 2.0
MESSAGE = "The database is unavailable at the moment. Please try again in a little while."
# What SQLite says when the fault is its lock or its file, not the statement.
SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
)
# Postgres SQLSTATE classes of a database away or overloaded: connection exceptions,
# insufficient resources, operator intervention (shutdown, statement timeout), locks.
POSTGRES_UNAVAILABLE_CLASSES = ("08", "53", "57", "55")
# Routes whose clients read text (pip, twine) or JSON, not a page.
TEXT_ROUTES = frozenset({"upload", "simple_index", "simple_detail", "file"})
JSON_ROUTES = frozenset({"json_project", "json_release", "schema_status"})


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is away (or locked), not that the code is wrong."""
    if isinstance(exc, (DisconnectionError, TimeoutError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        message = str(orig).lower()
        return any(text in message for text in SQLITE_UNAVAILABLE)
    if isinstance(orig, psycopg.OperationalError):
        sqlstate = orig.sqlstate
        # No SQLSTATE: the server never answered (refused, reset, closed).
        return sqlstate is None or sqlstate[:2] in POSTGRES_UNAVAILABLE_CLASSES
    return False


class OutageLog:
    """One log line when the database goes away and one when it is back, per process."""

    def __init__(self, settle_seconds: float = SETTLE_SECONDS):
        self.settle_seconds = settle_seconds
        self._lock = threading.Lock()
        self.since: float | None = None  # monotonic time of the outage's first failure
        self._last_failure = 0.0
        self.answered = 0  # 503s during this outage
        self.stale = 0  # pages the cache served instead

    def failed(self, exc: BaseException, *, counted: bool = True) -> None:
        """A request the database failed (answered 503); not ``counted``: no request."""
        with self._lock:
            now = time.monotonic()
            self._last_failure = now
            if counted:  # else the page cache's listener lost its connection
                self.answered += 1
            if self.since is not None:
                return
            self.since = now
        log.error(
            "database unavailable (%s): answering 503, cached pages served, until it is back",
            first_line(exc),
        )

    def stale_instead(self) -> None:
        """A request counted as a 503 got a page from the cache after all."""
        with self._lock:
            self.answered = max(0, self.answered - 1)
            self.stale += 1

    def succeeded(self) -> None:
        if self.since is None:  # the usual case: no lock, no clock
            return
        with self._lock:
            now = time.monotonic()
            if self.since is None or now - self._last_failure < self.settle_seconds:
                return
            lasted, answered, stale = self._last_failure - self.since, self.answered, self.stale
            self.since, self.answered, self.stale = None, 0, 0
        log.warning(
            "database available again (unavailable for %.1f s: %d requests answered 503, "
            "%d cached pages served)",
            lasted,
            answered,
            stale,
        )


def unavailable_response(request) -> Response:
    """The 503 for ``request``: text, JSON or a page, as its client reads them."""
    retry_after = request.registry.settings.get(RETRY_AFTER_SETTING, DEFAULT_RETRY_AFTER)
    route = request.matched_route.name if request.matched_route is not None else None
    offer = request.accept.best_match(["text/html", "application/json", "text/plain"])
    if route in JSON_ROUTES or (route not in TEXT_ROUTES and offer == "application/json"):
        body = json.dumps({"code": "503 Service Unavailable", "message": MESSAGE}) + "\n"
        content_type = "application/json"
    elif route in TEXT_ROUTES or offer != "text/html":
        body, content_type = MESSAGE + "\n", "text/plain"
    else:
        body, content_type = _page(request), "text/html"
    response = Response(body, status=503, content_type=content_type, charset="utf-8")
    response.headers["Retry-After"] = str(retry_after)
    response.cache_control.no_store = True
    return response


def _page(request) -> str:
    # Self-contained: the layout asks who is logged in, which needs the database.
    css = request.static_path("pypi_web:static/css/site.css")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Service unavailable (503) · pypi_web</title>"
        f'<link rel="stylesheet" href="{css}"></head><body><main id="content">'
        '<div class="container narrow error-page"><p class="error-code">503</p>'
        f"<h1>Temporarily unavailable</h1><p>{MESSAGE}</p>"
        '<p><a href="/">Back to the home page</a></p></div></main></body></html>\n'
    )


class DatabaseUnavailablePredicate:
    """``database_unavailable=True``: the view is for the faults ``database_unavailable`` names."""

    def __init__(self, value, config):
        self.value = bool(value)

    def text(self):
        return f"database_unavailable = {self.value}"

    phash = text

    def __call__(self, context, request):
        return database_unavailable(context) == self.value


# OperationalError too: the views for SQL the live schema refuses
# (pypi_web.migrations.views) sit on it, and the most specific context wins.
@exception_view_config(OperationalError, database_unavailable=True)
@exception_view_config(DBAPIError, database_unavailable=True)
@exception_view_config(DisconnectionError, database_unavailable=True)
@exception_view_config(TimeoutError, database_unavailable=True)
def database_unavailable_view(exc, request):
    request.registry["database_outage"].failed(exc)
    # Read by the page cache: a page it holds answers instead (stale-if-error).
    request.environ["pypi_web.database_unavailable"] = True
    return unavailable_response(request)


def settle_seconds(settings: dict, dialect_name: str) -> float:
    """How long the database must answer after its last failure for an outage to be over.

    SQLite (in WAL mode) goes on answering reads while its write lock is held, and
    a write fails only after waiting its busy timeout on each attempt: between two
    such failures the reads succeed. Over sooner than two such waits, one held lock
    would be logged as an outage every few seconds.
    """
    if dialect_name != "sqlite":
        return SETTLE_SECONDS
    attempts = int(settings.get("retry.attempts", 1))
    return max(SETTLE_SECONDS, 2 * attempts * sqlite_busy_timeout_ms(settings) / 1000)


def includeme(config):
    config.add_view_predicate("database_unavailable", DatabaseUnavailablePredicate)
    engine = config.registry["dbengine"]
    outage = OutageLog(settle_seconds(config.get_settings(), engine.dialect.name))
    config.registry["database_outage"] = outage
    # A transaction that commits means the database is back.
    event.listen(engine, "commit", lambda conn: outage.succeeded())
