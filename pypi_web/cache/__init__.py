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
  each journalled commit (pypi_web.cache.listener), so a hit costs no
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

from pyramid.exceptions import ConfigurationError
from sqlalchemy import Engine

from pypi_web.models import DBCONNECTION_SETTING, sqlite_busy_timeout_ms
from pypi_web.packaging.journal import DEPENDENCIES, INDEX, PROJECT

from .listener import JournalListener
from .middleware import PageCacheMiddleware
from .serials import JoinedSerialReader, SerialReader
from .store import PageCache

__all__ = ["INDEX", "LISTEN", "PROJECT", "QUERY", "includeme", "invalidation", "wrap"]

SETTING = "page_cache.max_bytes"
INVALIDATION_SETTING = "page_cache.invalidation"
QUERY = "query"
LISTEN = "listen"


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
        settings.get(INVALIDATION_SETTING),
        config.registry["dbengine"],
        joined=config.registry[DBCONNECTION_SETTING] is not None,
    )


def invalidation(setting: str | None, engine: Engine, *, joined: bool = False) -> str:
    """``page_cache.invalidation``: listen on Postgres unless set to query; query elsewhere.

    ``joined``: the app joins a connection's transaction (settings' ``dbconnection``),
    which commits nothing anybody could be notified of.
    """
    postgres = engine.dialect.name == "postgresql"
    chosen = (setting or "").strip() or (LISTEN if postgres and not joined else QUERY)
    if chosen not in (LISTEN, QUERY):
        raise ConfigurationError(
            f"{INVALIDATION_SETTING} must be {LISTEN!r} or {QUERY!r}, not {chosen!r}"
        )
    if chosen == LISTEN and not postgres:
        raise ConfigurationError(
            f"{INVALIDATION_SETTING} = {LISTEN} needs Postgres (LISTEN/NOTIFY); "
            f"{engine.dialect.name} can only use {QUERY}"
        )
    if chosen == LISTEN and joined:
        raise ConfigurationError(
            f"{INVALIDATION_SETTING} = {LISTEN} hears commits; an app joined to a "
            f"connection's transaction ({DBCONNECTION_SETTING}) can only use {QUERY}"
        )
    return chosen


def wrap(app):
    """The WSGI app to serve: ``app`` behind the page cache when it is on."""
    cache = app.registry.get("page_cache")
    if cache is None:
        return app
    registry = app.registry
    listener = None
    if registry["page_cache_invalidation"] == LISTEN:
        listener = JournalListener(registry["dbengine"], outage=registry["database_outage"])
    return PageCacheMiddleware(app, cache, _serial_reader(registry), listener)


def _serial_reader(registry) -> SerialReader | JoinedSerialReader:
    connection = registry[DBCONNECTION_SETTING]
    if connection is not None:
        return JoinedSerialReader(connection)
    engine = registry["dbengine"]
    sqlite_timeout = None
    if engine.dialect.name == "sqlite":
        # A lock is waited for as long as the site's own queries wait.
        sqlite_timeout = sqlite_busy_timeout_ms(registry.settings) / 1000
    return SerialReader(engine, sqlite_timeout)
