"""The site's own pages: home, about, classifier browsing, and the error pages."""

from __future__ import annotations

import logging

from pyramid.httpexceptions import (
    HTTPException,
    HTTPMovedPermanently,
    HTTPNotFound,
    HTTPPermanentRedirect,
)
from pyramid.interfaces import IRoutesMapper
from pyramid.view import exception_view_config, notfound_view_config, view_config

from pypi_web.packaging import services as packaging_services
from pypi_web.packaging.names import normalize

from . import services

log = logging.getLogger(__name__)


@view_config(route_name="home", renderer="pypi_web:templates/site/home.pt")
def home(request):
    dbsession = request.dbsession
    return {
        "stats": request.registry["site_stats_cache"].get(dbsession),
        "new_releases": packaging_services.newest_releases(dbsession),
        "new_packages": packaging_services.newest_packages(dbsession),
    }


@view_config(route_name="about", renderer="pypi_web:templates/site/about.pt")
def about(request):
    return {}


@view_config(route_name="classifiers", renderer="pypi_web:templates/site/classifiers.pt")
def classifiers(request):
    return {"groups": services.classifier_counts(request.dbsession)}


@view_config(route_name="favicon")
def favicon(request):
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says.
    return HTTPMovedPermanently(request.static_url("pypi_web:static/favicon.svg"))


def _slash_redirect(request):
    """The redirect to ``path + "/"`` when that path is a route, else None.

    Pyramid's own append_slash answers every method with the same redirect;
    a client POSTing to a slashless URL (an upload) needs 308 so it re-sends
    its body, while GET and HEAD get the cacheable 301.
    """
    path = request.path_info
    if path.endswith("/"):
        return None
    mapper = request.registry.queryUtility(IRoutesMapper)
    routes = mapper.get_routes() if mapper is not None else []
    # Static views (route names "__<name>/") serve files: no slashes added there.
    routes = [r for r in routes if not r.name.startswith("__")]
    match = next(((r, m) for r in routes if (m := r.match(path + "/")) is not None), None)
    if match is None:
        return None
    route, matchdict = match
    if route.name in ("project", "release"):
        # Straight to the canonical project URL: one redirect, not two.
        matchdict = {**matchdict, "name": normalize(matchdict["name"])}
        location = request.route_path(route.name, **matchdict)
    else:
        location = request.script_name + path + "/"
    if request.query_string:
        location += "?" + request.query_string
    if request.method in ("GET", "HEAD"):
        return HTTPMovedPermanently(location=location)
    return HTTPPermanentRedirect(location=location)


@notfound_view_config(renderer="pypi_web:templates/site/notfound.pt")
def notfound(exc, request):
    redirect = _slash_redirect(request)
    if redirect is not None:
        return redirect
    request.response.status = 404
    # A view's HTTPNotFound says what was missing. Pyramid's own messages (an
    # unmatched URL; PredicateMismatch, a subclass, naming view predicates)
    # are for developers, not users.
    raised_by_view = request.matched_route is not None and type(exc) is HTTPNotFound
    detail = exc.detail if raised_by_view and isinstance(exc.detail, str) else None
    return {"detail": detail}


@exception_view_config(Exception, renderer="pypi_web:templates/site/error.pt")
def server_error(exc, request):
    """Any unhandled exception: logged with its traceback, shown as a plain 500 page.

    The page must render when the database is what failed, so neither this
    view nor its template touch it (the layout leaves out the per-user
    navigation on this page), and nothing about the exception is shown.
    """
    if isinstance(exc, HTTPException):
        # 4xx/3xx raised on purpose keep Pyramid's handling.
        return exc
    log.error("unhandled exception on %s %s", request.method, request.path_qs, exc_info=exc)
    request.environ["pypi_web.server_error"] = True
    request.response.status = 500
    return {}
