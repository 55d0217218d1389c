"""Upstream projects' simple pages (called by pypi_web.simple) and their files, /mirror/."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPMovedPermanently, HTTPNotFound
from pyramid.renderers import render_to_response
from pyramid.response import FileResponse, Response
from pyramid.view import view_config

from pypi_web.cache import headers as caching
from pypi_web.files import METADATA_SUFFIX
from pypi_web.packaging.names import is_valid_name, normalize

from . import pages, project_page, services

FILE_CACHE_CONTROL = "public, max-age=31536000, immutable"


def _text(message: str, status: int) -> Response:
    return Response(message + "\n", status=status, content_type="text/plain", charset="utf-8")


def unavailable(error: Exception) -> Response:
    return _text(
        f"503 Service Unavailable: no upstream index could be reached and this project "
        f"is not cached here. {error}",
        503,
    )


def simple_detail(
    request, normalized: str, as_json: bool, content_type: str, etag_kind: str, package
) -> Response:
    """The upstream's page of a project this index does not have (``package`` None), or
    of one whose owners allow it (pypi_web.upstream.rules); 404 when no upstream has it.
    A client holding the page as it is gets a 304, as for a local page."""
    try:
        cached = services.project_page(request.dbsession, request.upstreams, normalized)
    except services.UpstreamUnavailable as error:
        return unavailable(error)
    if cached is None:
        raise HTTPNotFound(f"There is no project named {normalized!r}, here or upstream.")
    etag = pages.etag(request, cached, package, etag_kind)
    headers = pages.headers(cached, etag)
    unchanged = caching.not_modified(request, etag, None, headers)
    if unchanged is not None:
        return unchanged
    body = (pages.json_body if as_json else pages.html_body)(request, normalized, cached, package)
    response = Response(body=body.encode("utf-8"), content_type=content_type, charset="utf-8")
    response.headers.update(headers)
    pages.keep_copy(request, cached)
    return response


@view_config(route_name="upstream_file", request_method="GET")
def upstream_file(request):
    name, filename = request.matchdict["name"], request.matchdict["filename"]
    if not is_valid_name(name):
        return _text("There is no such file.", 404)
    try:
        relative = services.mirrored_file(
            request.dbsession, request.file_storage, request.upstreams, normalize(name), filename
        )
    except services.FileRefused as error:
        return _text(f"502 Bad Gateway: {error}", 502)
    except services.UpstreamUnavailable as error:
        return _text(
            f"503 Service Unavailable: the file could not be fetched upstream. {error}", 503
        )
    path = request.file_storage.full_path(relative) if relative else None
    if path is None:
        return _text("There is no such file.", 404)
    content_type = (
        "text/plain" if filename.endswith(METADATA_SUFFIX) else "application/octet-stream"
    )
    response = FileResponse(str(path), request=request, content_type=content_type)
    response.cache_control = FILE_CACHE_CONTROL
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.conditional_response = True
    return response


@view_config(route_name="upstream_status", renderer="json", request_method="GET")
def upstream_status(request):
    """The upstreams' health and the cache's size, for operators and monitoring."""
    request.response.cache_control = "no-store"
    return services.cache_report(request.dbsession, request.upstreams)


def mirrored_project(request, normalized: str) -> Response | None:
    """The site's page of a cached upstream project (None when none is cached)."""
    if not request.upstreams.enabled:
        return None
    project = project_page.mirrored_project(request, normalized)
    if project is None:
        return None
    if request.matchdict["name"] != normalized:
        return HTTPMovedPermanently(request.route_url("project", name=normalized))
    # Kept by the page cache while the copy is fresh: the upstream's JSON API is not
    # asked again until then.
    pages.keep_copy(request, project.cached)
    return render_to_response(
        "pypi_web:templates/upstream/project.pt", {"project": project}, request=request
    )
