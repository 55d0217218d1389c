"""Rendered pages kept in memory and served again while what they show is unchanged.

Every page about a project is a function of the project's serial (its
``last_serial``, moved on by every journalled change: an upload, a yank, a
role, an import), and the site-wide pages (home, search, classifiers) of the
index serial, the newest journal entry. So a response rendered once can be
handed to the next visitor while that serial has not moved. How the cache
knows (``page_cache.invalidation``):

* ``query`` (SQLite's, and a setting on Postgres): one indexed query per
  request reads the serial. Never stale, even with several server processes
  each holding its own copy: an upload is on ``/simple/<name>/`` for the very
  next ``pip install``.
* ``listen`` (Postgres' default): Postgres notifies every server process of
  each journalled commit (pypi_web.page_cache_listener), so a hit costs no
  query at all. A process's own writes count at their commit; another
  process's reach it a few milliseconds later at most. While the listener is
  not connected, serials are read per request as with ``query``.

This is the part of pypi.org's CDN (Fastly, purged by serial) a single site
can do in-process.

A feature marks a route cacheable in its ``includeme``::

    config.cache_pages("project", depends_on=PROJECT)
    config.cache_pages("home", depends_on=INDEX, max_age=60)

``max_age`` bounds pages that also show something no journal entry tracks
(the home page's counts, which include users).

It is a WSGI layer in front of Pyramid's router rather than a tween: a hit
then costs the serial check and a dict lookup, not a Pyramid request, its
tweens and its session (that would be most of a hit's time). It keeps the
response exactly as the site sent it, security headers included.

Only anonymous GET requests are served from the cache or fill it: no cookie
at all (a logged-in visitor, or one holding a form's CSRF session, always gets
the page made for them), no Authorization header, no conditional or range
headers (the views answer those with a 304 just as cheaply). Only a 200 with
its whole body in hand and no Set-Cookie is kept. The key is the whole URL
(scheme, host, path and query) and the Accept header. The cache is a
least-recently-used dict bounded in bytes (``page_cache.max_bytes``; 0, the
default, turns it off, as in development, where templates are edited and
reloaded).

A page that is a copy of an upstream index's (pypi_web.upstream: a project
this index does not have, or whose owners allow the upstream's) is marked so
by its view in the environ (``COPY_ENVIRON``: when the upstream last
confirmed it, how long it stays fresh). It is kept no longer than that (the
upstream TTL), its ``Age`` worked out afresh each time it is served, and like
any project page it goes at a journalled change to that name: a local upload
wins the very next request. With ``query`` the serial read includes the
name's ``upstream_projects`` row (its ``fetched_at``), so another process's
revalidation replaces it too; with ``listen`` the TTL bounds it. Any other
page carrying an ``Age`` (another cache's copy) is never kept.

While the database is away (the serial cannot be read, or the site answers
503 for it: pypi_web.outage), a page the cache holds is served as it was,
stale if need be, with ``X-Cache: STALE`` (HTTP's stale-if-error): the
visitor gets the page instead of the 503.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from pyramid.exceptions import ConfigurationError
from pyramid.interfaces import IRoutesMapper
from sqlalchemy import Engine, bindparam, create_engine, event, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from pypi_web.models import (
    DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_BUSY_TIMEOUT_SETTING,
    JournalEntry,
    Package,
    UpstreamProject,
)
from pypi_web.packaging.journal import DEPENDENCIES, INDEX, JOURNALLED_NAMES, PROJECT
from pypi_web.packaging.names import normalize
from pypi_web.page_cache_listener import LISTENED, JournalListener

log = logging.getLogger(__name__)

# What a cached route's pages depend on: PROJECT or INDEX (pypi_web.packaging.journal).

SETTING = "page_cache.max_bytes"
INVALIDATION_SETTING = "page_cache.invalidation"
QUERY = "query"
LISTEN = "listen"
CACHE_HEADER = "X-Cache"
# Set by pypi_web.outage's 503: the database is away.
UNAVAILABLE_ENVIRON = "pypi_web.database_unavailable"
# Set by a view whose page is a copy of an upstream's: an UpstreamCopy.
COPY_ENVIRON = "pypi_web.page_cache.upstream_copy"
# Bytes of Python objects per kept page besides its text (tuples, dict slot, key):
# about 2 kB by tracemalloc, so the bound holds for small pages too.
ENTRY_OVERHEAD = 2048
# One page may take at most this share of the cache: a huge page would evict everything.
MAX_ENTRY_SHARE = 16
# Request headers that make a response personal or conditional.
BYPASS_HEADERS = (
    "HTTP_COOKIE",
    "HTTP_AUTHORIZATION",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_RANGE",
)


@dataclass(frozen=True)
class UpstreamCopy:
    """What a view tells the cache of a page copied from an upstream index."""

    # time.time() when the upstream last confirmed the page: its Age counts from then.
    fetched_at: float
    # Seconds from now that the copy stays fresh (the upstream TTL left): kept no longer.
    fresh_for: float
    # Headers that differ when the page is served again from here (their new values).
    on_hit: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CachedPage:
    dependency: tuple
    expires: float | None
    status: str
    headerlist: tuple[tuple[str, str], ...]
    body: bytes
    # An upstream copy's fetch time (time.time()): its Age is added when served.
    fetched_at: float | None = None

    @property
    def size(self) -> int:
        # The body, the header text, and the Python objects around them and the key.
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headerlist) + ENTRY_OVERHEAD


class PageCache:
    """A byte-bounded LRU of rendered pages; safe to share between threads."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes // MAX_ENTRY_SHARE
        self._entries: OrderedDict[tuple, CachedPage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def get_stale(self, key: tuple) -> CachedPage | None:
        """The page kept for ``key``, current or not (the database is away)."""
        with self._lock:
            return self._entries.get(key)

    def get(self, key: tuple, is_current: Callable[[tuple], bool]) -> CachedPage | None:
        """The page kept for ``key`` if ``is_current(its dependency)`` and not expired."""
        with self._lock:
            page = self._entries.get(key)
            if (
                page is not None
                and is_current(page.dependency)
                and (page.expires is None or time.monotonic() < page.expires)
            ):
                self._entries.move_to_end(key)
                return page
            return None

    def put(self, key: tuple, page: CachedPage) -> None:
        size = page.size
        if size > self.max_entry_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = page
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size


class SerialUnavailable(Exception):
    """The serial could not be read (the database is down or the connection broke)."""


class _ThreadConnection:
    """One server thread's connection for the serial queries, closed when the thread ends."""

    def __init__(self, connection):
        self.connection = connection
        self.dbapi_connection = connection.dbapi_connection

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already broken or closed: nothing to release
            self.connection.close()

    def invalidate(self) -> None:
        """Drop a broken connection (closing it would try, and log, a rollback)."""
        with contextlib.suppress(Exception):
            self.connection.invalidate()

    def __del__(self):
        # A thread's locals are released when it ends.
        self.close()


class SerialReader:
    """The two serial queries, run straight on the driver.

    A hit costs little more than this query, so it skips what a page's own
    queries go through: no ORM session, no transaction (an engine of its own
    in autocommit: one round trip to Postgres, not BEGIN, SELECT, ROLLBACK),
    statements compiled once, and no pool checkout: each server thread keeps
    one connection of its own (checking one out and back in cost about as much
    Python time as the query's round trip).
    """

    def __init__(self, engine: Engine, sqlite_timeout: float | None = None):
        # No pool: each thread opens its one connection and keeps it (a pool
        # would only bound how many threads may check the cache at once).
        # On SQLite, a lock is waited for as long as the site's own queries wait.
        connect_args = {"timeout": sqlite_timeout} if sqlite_timeout is not None else {}
        self.engine = create_engine(
            engine.url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args=connect_args
        )
        self._dbapi_error = self.engine.dialect.loaded_dbapi.Error
        self._libpq = self.engine.dialect.driver == "psycopg"
        if self._libpq:
            from psycopg import pq

            self._pq = pq
        self._local = threading.local()
        self._held: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()
        name = bindparam("name")
        self._statements = {
            # The project here, if any, and its upstream copy, if any (one row either way).
            PROJECT: select(
                select(Package.id).where(Package.normalized_name == name).scalar_subquery(),
                select(Package.last_serial)
                .where(Package.normalized_name == name)
                .scalar_subquery(),
                select(UpstreamProject.fetched_at)
                .where(UpstreamProject.normalized_name == name)
                .scalar_subquery(),
            ),
            INDEX: select(func.max(JournalEntry.id)),
        }
        if self._libpq:
            # libpq's own placeholders ($1): SQL and parameter order for PQprepare.
            dollar = postgresql.dialect(paramstyle="numeric_dollar")
            self._prepared = {}
            for kind, statement in self._statements.items():
                compiled = statement.compile(dialect=dollar)
                self._prepared[kind] = (str(compiled).encode(), tuple(compiled.positiontup))
        else:
            self._compiled = {kind: self._compile(s) for kind, s in self._statements.items()}

    def _compile(self, statement) -> tuple[str, tuple[str, ...] | None]:
        compiled = statement.compile(dialect=self.engine.dialect)
        return str(compiled), (tuple(compiled.positiontup) if compiled.positional else None)

    def _fetch(self, kind: str, params) -> tuple | None:
        held = getattr(self._local, "held", None)
        try:
            if held is None:
                held = _ThreadConnection(self.engine.raw_connection())
                if self._libpq:
                    self._prepare(held.dbapi_connection.pgconn)
                self._local.held = held
                self._held.add(held)
            if self._libpq:
                return self._fetch_prepared(held.dbapi_connection.pgconn, kind, params)
            sql, order = self._compiled[kind]
            cursor = held.dbapi_connection.cursor()
            try:
                cursor.execute(sql, tuple(params[k] for k in order) if order else params)
                return cursor.fetchone()
            finally:
                cursor.close()
        except (self._dbapi_error, DBAPIError, SerialUnavailable) as exc:
            # A broken connection (a restarted server) is dropped; the
            # thread's next request opens another.
            self._local.held = None
            if held is not None:
                self._held.discard(held)
                held.invalidate()
            raise SerialUnavailable(str(exc)) from exc

    # On psycopg, the two queries are prepared once per connection (named
    # after their kind) and run through its libpq layer, psycopg.pq: a third
    # of the Python time of a cursor's execute, and Postgres skips parsing and
    # planning. A hit is mostly this round trip, on CPUs the site shares.
    def _prepare(self, pgconn) -> None:
        for name, (sql, _) in self._prepared.items():
            result = pgconn.prepare(name.encode(), sql)
            if result.status != self._pq.ExecStatus.COMMAND_OK:
                raise SerialUnavailable(result.error_message.decode(errors="replace"))

    def _fetch_prepared(self, pgconn, kind: str, params: dict) -> tuple | None:
        _, order = self._prepared[kind]
        result = pgconn.exec_prepared(kind.encode(), [params[k].encode() for k in order] or None)
        if result.status != self._pq.ExecStatus.TUPLES_OK:
            raise SerialUnavailable(result.error_message.decode(errors="replace"))
        if result.ntuples == 0:
            return None
        return tuple(_from_text(result.get_value(0, column)) for column in range(result.nfields))

    def current(self, environ, kind: str, matchdict: dict) -> tuple | None:
        """The serial a route's pages depend on now, or None when there is none to check."""
        params = {"name": normalize(matchdict.get("name", ""))} if kind == PROJECT else {}
        # Tests hand each request their own (uncommitted) transaction: read through it.
        session = environ.get("app.dbsession")
        if session is not None:
            row = session.execute(self._statements[kind], params).first()
        else:
            row = self._fetch(kind, params)
        if row is None or (kind == PROJECT and all(value is None for value in row)):
            return None  # no such project, here or cached from upstream
        # An index with no journal entry yet has the serial None: still a serial.
        return (kind, *row)

    def dispose(self) -> None:
        """Close every thread's connection (a process shutting down, a test)."""
        for held in list(self._held):
            held.close()
        self._held.clear()
        self._local = threading.local()
        self.engine.dispose()


def _from_text(value: bytes | None) -> int | bytes | None:
    """A column in libpq's text form: integers as int, a timestamp kept as text (compared only)."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def _path(environ) -> str | None:
    """PATH_INFO as Pyramid decodes it, or None when it is not UTF-8 (left to the site)."""
    try:
        return environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


class PageCacheMiddleware:
    """Serves kept pages in front of the Pyramid app ``app``; keeps what it may."""

    def __init__(self, app, cache: PageCache):
        self.app = app
        self.registry = app.registry
        self.cache = cache
        self.routes: dict[str, tuple[str, float | None]] = app.registry["page_cache_routes"]
        engine = app.registry["dbengine"]
        self.outage = app.registry["database_outage"]
        sqlite_timeout = None
        if engine.dialect.name == "sqlite":
            busy_ms = app.registry.settings.get(
                SQLITE_BUSY_TIMEOUT_SETTING, DEFAULT_SQLITE_BUSY_TIMEOUT_MS
            )
            sqlite_timeout = int(busy_ms) / 1000
        self.serials = SerialReader(engine, sqlite_timeout)
        self.listener: JournalListener | None = None
        if app.registry["page_cache_invalidation"] == LISTEN:
            self.listener = JournalListener(engine, outage=self.outage)
            # This process's own writes count at their commit, not a notification later.
            factory = app.registry["dbsession_factory"]
            event.listen(factory, "after_commit", self._after_commit)
            event.listen(factory, "after_rollback", self._after_rollback)
        # In the router's order: the first route that matches is the one that answers.
        self.mapper_routes = app.registry.getUtility(IRoutesMapper).get_routes()

    def _after_commit(self, session) -> None:
        names = session.info.pop(JOURNALLED_NAMES, None)
        if names:
            self.listener.apply_local(names)

    def _after_rollback(self, session) -> None:
        session.info.pop(JOURNALLED_NAMES, None)

    def close(self) -> None:
        """Stop listening and close the serial connections (a process shutting down, a test)."""
        if self.listener is not None:
            self.listener.stop()
        self.serials.dispose()

    def _cacheable(self, environ) -> tuple[str, float | None, dict] | None:
        if environ.get("REQUEST_METHOD") != "GET":
            return None
        if environ.get("CONTENT_LENGTH", "0") not in ("", "0"):
            return None  # a GET with a body: the input checks read it, not the cache
        if any(environ.get(name) for name in BYPASS_HEADERS):
            return None
        path = _path(environ)
        if path is None:
            return None
        for route in self.mapper_routes:
            match = route.match(path)
            if match is not None:
                if route.name not in self.routes:
                    return None
                kind, max_age = self.routes[route.name]
                return kind, max_age, match
        return None

    def __call__(self, environ, start_response):
        cacheable = self._cacheable(environ)
        if cacheable is None:
            return self.app(environ, start_response)
        kind, max_age, match = cacheable
        key = (
            environ.get("wsgi.url_scheme"),
            environ.get("HTTP_HOST") or environ.get("SERVER_NAME"),
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_ACCEPT", ""),
        )
        # Tests hand each request their own (uncommitted) transaction, which
        # nobody hears of: their serials are read through it.
        listened = (
            self.listener.token()
            if self.listener is not None and "app.dbsession" not in environ
            else None
        )
        if listened is not None:
            name = None
            if kind == PROJECT:
                name = normalize(match.get("name", ""))
                if not name:  # nothing a notification could name
                    return self.app(environ, start_response)
            dependency: tuple = (LISTENED, name, listened)
            is_current = self.listener.is_current
        else:
            try:
                dependency = self.serials.current(environ, kind, match)
            except (DBAPIError, SerialUnavailable):
                # The site answers for itself (a lost connection is replaced); when
                # it answers 503, the database is away and the kept page goes out.
                return self._fill(environ, start_response, key, None, max_age)
            self.outage.succeeded()
            if dependency is None:
                return self.app(environ, start_response)
            is_current = dependency.__eq__
        page = self.cache.get(key, is_current)
        if page is not None:
            # Current, so the database (or the listener's connection to it) answers.
            self.outage.succeeded()
            return self._serve(page, start_response, "HIT")
        return self._fill(environ, start_response, key, dependency, max_age)

    @staticmethod
    def _serve(page: CachedPage, start_response, how: str):
        headerlist = [*page.headerlist, (CACHE_HEADER, how)]
        if page.fetched_at is not None:
            headerlist.append(("Age", str(max(0, int(time.time() - page.fetched_at)))))
        start_response(page.status, headerlist)
        return [page.body]

    def _fill(self, environ, start_response, key, dependency, max_age):
        """The site's answer, kept when ``dependency`` says what it depends on."""
        started: list = []

        def capture(status, headerlist, exc_info=None):
            if exc_info is not None:
                return start_response(status, headerlist, exc_info)
            started[:] = [status, headerlist]
            return lambda data: None  # Pyramid never calls write()

        app_iter = self.app(environ, capture)
        if not started:  # an error response, already started
            return app_iter
        status, headerlist = started
        if environ.get(UNAVAILABLE_ENVIRON) and (page := self.cache.get_stale(key)) is not None:
            # The site answered 503 for the database: the page as it was instead.
            if hasattr(app_iter, "close"):
                app_iter.close()
            self.outage.stale_instead()
            return self._serve(page, start_response, "STALE")
        copy: UpstreamCopy | None = environ.get(COPY_ENVIRON)
        names = {name.lower() for name, _ in headerlist}
        storable = (
            dependency is not None
            and isinstance(app_iter, list)
            and status.startswith("200 ")
            and "set-cookie" not in names
            # A page with an Age is another cache's copy: kept only when its view
            # says until when (an upstream copy), never on a serial alone.
            and (copy.fresh_for > 0 if copy is not None else "age" not in names)
        )
        if storable:
            body = b"".join(app_iter)
            self.cache.put(key, _kept(dependency, max_age, status, headerlist, body, copy))
            start_response(status, [*headerlist, (CACHE_HEADER, "MISS")])
            return [body]
        start_response(status, headerlist)
        return app_iter


def _kept(dependency, max_age, status, headerlist, body, copy: UpstreamCopy | None) -> CachedPage:
    """The page as the cache keeps it; an upstream copy until it goes stale, without its Age."""
    expires = None if max_age is None else time.monotonic() + max_age
    fetched_at = None
    if copy is not None:
        expires = min(expires or float("inf"), time.monotonic() + copy.fresh_for)
        fetched_at = copy.fetched_at
        replaced = {name.lower() for name, _ in copy.on_hit} | {"age"}
        headerlist = [h for h in headerlist if h[0].lower() not in replaced] + list(copy.on_hit)
    return CachedPage(
        dependency=dependency,
        expires=expires,
        status=status,
        headerlist=tuple(headerlist),
        body=body,
        fetched_at=fetched_at,
    )


def cache_pages(config, route_name: str, depends_on: str, max_age: float | None = None) -> None:
    """The ``config.cache_pages(route, depends_on=PROJECT|INDEX, max_age=None)`` directive."""
    if depends_on not in DEPENDENCIES:
        raise ValueError(f"depends_on must be one of {DEPENDENCIES}, not {depends_on!r}")
    config.registry.setdefault("page_cache_routes", {})[route_name] = (depends_on, max_age)


def includeme(config):
    config.add_directive("cache_pages", cache_pages)
    config.registry.setdefault("page_cache_routes", {})
    settings = config.get_settings()
    max_bytes = int(settings.get(SETTING, 0) or 0)
    if max_bytes > 0:
        config.registry["page_cache"] = PageCache(max_bytes)
    config.registry["page_cache_invalidation"] = invalidation(
        settings.get(INVALIDATION_SETTING), config.registry["dbengine"]
    )


def invalidation(setting: str | None, engine: Engine) -> str:
    """``page_cache.invalidation``: listen on Postgres unless set to query; query elsewhere."""
    postgres = engine.dialect.name == "postgresql"
    chosen = (setting or "").strip() or (LISTEN if postgres else QUERY)
    if chosen not in (LISTEN, QUERY):
        raise ConfigurationError(
            f"{INVALIDATION_SETTING} must be {LISTEN!r} or {QUERY!r}, not {chosen!r}"
        )
    if chosen == LISTEN and not postgres:
        raise ConfigurationError(
            f"{INVALIDATION_SETTING} = {LISTEN} needs Postgres (LISTEN/NOTIFY); "
            f"{engine.dialect.name} can only use {QUERY}"
        )
    return chosen


def wrap(app):
    """The WSGI app to serve: ``app`` behind the page cache when it is on."""
    cache = app.registry.get("page_cache")
    return app if cache is None else PageCacheMiddleware(app, cache)
