"""The WSGI layer in front of Pyramid's router: kept pages out, the site's answers in."""

from __future__ import annotations

import time

from pyramid.interfaces import IRoutesMapper
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from pypi_web.packaging.journal import JOURNALLED_NAMES, PROJECT
from pypi_web.packaging.names import normalize

from .listener import LISTENED, JournalListener
from .serials import JoinedSerialReader, SerialReader, SerialUnavailable
from .store import CachedPage, PageCache, UpstreamCopy

CACHE_HEADER = "X-Cache"
# Set by pypi_web.outage's 503: the database is away.
UNAVAILABLE_ENVIRON = "pypi_web.database_unavailable"
# Set by a view whose page is a copy of an upstream's: an UpstreamCopy.
COPY_ENVIRON = "pypi_web.cache.upstream_copy"
# Request headers that make a response personal or conditional.
BYPASS_HEADERS = (
    "HTTP_COOKIE",
    "HTTP_AUTHORIZATION",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_RANGE",
)


def _path(environ) -> str | None:
    """PATH_INFO as Pyramid decodes it, or None when it is not UTF-8 (left to the site)."""
    try:
        return environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


class PageCacheMiddleware:
    """Serves kept pages in front of the Pyramid app ``app``; keeps what it may."""

    def __init__(
        self,
        app,
        cache: PageCache,
        serials: SerialReader | JoinedSerialReader,
        listener: JournalListener | None = None,
    ):
        self.app = app
        self.registry = app.registry
        self.cache = cache
        self.routes: dict[str, tuple[str, float | None]] = app.registry["page_cache_routes"]
        self.outage = app.registry["database_outage"]
        self.serials = serials
        self.listener = listener
        if listener is not None:
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
        listened = self.listener.token() if self.listener is not None else None
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
                dependency = self.serials.current(kind, match)
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
