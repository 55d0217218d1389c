"""``/simple/`` and ``/simple/<name>/``: HTML (PEP 503) or JSON (PEP 691), and file downloads.

The representation is chosen by ``?format=<content type>`` when it names
one we serve, else by the Accept header, as PEP 691 says: the highest
q-value wins; between types the client names with equal q, the most
featureful (JSON, then the v1 HTML, then text/html); ``*/*`` or no Accept
header at all gets text/html. An Accept header that names nothing we serve
(``application/json``, ``...v2+json``, ``image/png``) gets 406 Not
Acceptable, listing what can be had.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from html import escape
from json.encoder import encode_basestring  # the C encoder, one string at a time

from pyramid.renderers import render
from pyramid.response import FileResponse, Response
from pyramid.view import view_config
from sqlalchemy import select

from pypi_web.cache import headers as caching
from pypi_web.files import METADATA_SUFFIX, STORED_PATH
from pypi_web.models import Package, Release, ReleaseFile
from pypi_web.packaging import status as project_status
from pypi_web.upstream import pages as upstream_pages
from pypi_web.upstream import rules as upstream_rules
from pypi_web.upstream import views as upstream_views

from . import services

TEXT_HTML = "text/html"
V1_HTML = "application/vnd.pypi.simple.v1+html"
V1_JSON = "application/vnd.pypi.simple.v1+json"
LATEST = {
    "application/vnd.pypi.simple.latest+html": V1_HTML,
    "application/vnd.pypi.simple.latest+json": V1_JSON,
}
# Offer order answers a wildcard: "*/*" gets text/html.
OFFERS = [TEXT_HTML, V1_HTML, V1_JSON, *LATEST]
# Between types the client names with the same q-value, the most featureful wins.
MOST_FEATUREFUL = [
    V1_JSON,
    "application/vnd.pypi.simple.latest+json",
    V1_HTML,
    "application/vnd.pypi.simple.latest+html",
    TEXT_HTML,
]
# Short tags for the ETag: one URL, three representations.
ETAG_KIND = {TEXT_HTML: "html", V1_HTML: "v1html", V1_JSON: "v1json"}


def choose_content_type(request) -> str | None:
    """The representation to send, or None when the Accept header allows none of them."""
    # "+" typed into a browser's address bar arrives as a space.
    requested = request.GET.get("format", "").strip().lower().replace(" ", "+")
    requested = LATEST.get(requested, requested)
    if requested in ETAG_KIND:
        return requested
    acceptable = request.accept.acceptable_offers(OFFERS)
    if not acceptable:
        return None
    best_q = acceptable[0][1]
    # A valid header's media ranges (None without a header, or for one that cannot be parsed).
    named = {media_range.lower() for media_range, *_ in request.accept.parsed or ()}
    best = next(
        (offer for offer in MOST_FEATUREFUL if offer in named and (offer, best_q) in acceptable),
        acceptable[0][0],
    )
    return LATEST.get(best, best)


def not_acceptable() -> Response:
    body = (
        "406 Not Acceptable: none of the types in the Accept header can be served here.\n"
        f"Available: {V1_JSON}, {V1_HTML}, {TEXT_HTML} (PEP 691).\n"
    )
    response = Response(body, status=406, content_type="text/plain", charset="utf-8")
    response.vary = ("Accept",)
    return response


def _response(body: str, content_type: str, headers: dict[str, str]) -> Response:
    response = Response(body=body.encode("utf-8"), content_type=content_type, charset="utf-8")
    response.headers.update(headers)
    return response


# Stands in for a page's files while the rest is encoded: nothing a project
# declares (its tracks, its status reason) can spell it.
FILES_PLACEHOLDER = f"\x00files-{secrets.token_hex(16)}\x00"


def _json(data: dict | str) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


INDEX_CHUNK_ROWS = 10_000


def index_html(request, rows, serial: int) -> Iterator[bytes]:
    """The HTML project list, encoded a chunk at a time (the body is sent as it is made)."""
    prefix = request.route_path("simple_index")
    yield (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{services.API_VERSION}">\n'
        "    <title>Simple index</title>\n  </head>\n  <body>\n"
    ).encode()
    for start in range(0, len(rows), INDEX_CHUNK_ROWS):
        yield "".join(
            f'    <a href="{prefix}{normalized}/">{escape(name)}</a>\n'
            for name, normalized, _ in rows[start : start + INDEX_CHUNK_ROWS]
        ).encode("utf-8")
    yield f"  </body>\n</html>\n<!--SERIAL {serial}-->\n".encode()


def index_json(rows, serial: int) -> Iterator[bytes]:
    yield (
        '{"meta":' + _json({"api-version": services.API_VERSION, "_last-serial": serial})
    ).rstrip().encode() + b',"projects":['
    for start in range(0, len(rows), INDEX_CHUNK_ROWS):
        chunk = ",".join(
            f'{{"name":{encode_basestring(name)},"_last-serial":{last_serial}}}'
            for name, _, last_serial in rows[start : start + INDEX_CHUNK_ROWS]
        )
        yield (("," if start else "") + chunk).encode("utf-8")
    yield b"]}\n"


@view_config(route_name="simple_index", request_method="GET")
def simple_index(request):
    content_type = choose_content_type(request)
    if content_type is None:
        return not_acceptable()
    serial, moment = caching.index_serial(request.dbsession)
    etag = f"{serial}-{ETAG_KIND[content_type]}"
    headers = caching.cache_headers(serial, etag, moment, vary="Accept")
    unchanged = caching.not_modified(request, etag, moment, headers)
    if unchanged is not None:
        return unchanged
    rows = services.project_rows(request.dbsession)
    response = Response(content_type=content_type, charset="utf-8")
    response.headers.update(headers)
    # Streamed: rows are plain tuples already read, so the transaction can end first.
    if content_type == V1_JSON:
        response.app_iter = index_json(rows, serial)
    else:
        response.app_iter = index_html(request, rows, serial)
    return response


@view_config(route_name="simple_detail", request_method="GET")
def simple_detail(request):
    # Looked up, and redirected to its normalized name, by SimpleProjectResource
    # (pypi_web.simple.resources); None when only an upstream index has it.
    package = request.context.package
    normalized = request.context.normalized_name
    uses_upstream = upstream_rules.uses_upstream(request.upstreams, package)
    content_type = choose_content_type(request)
    if content_type is None:
        return not_acceptable()
    if uses_upstream:
        # No project of that name here, or its owners allow an upstream's (pypi_web.upstream).
        return upstream_views.simple_detail(
            request,
            normalized,
            content_type == V1_JSON,
            content_type,
            ETAG_KIND[content_type],
            package,
        )
    serial = package.last_serial
    moment = caching.package_serial_time(request.dbsession, package) or package.created
    etag = f"{serial}-{ETAG_KIND[content_type]}"
    headers = caching.cache_headers(serial, etag, moment, vary="Accept")
    unchanged = caching.not_modified(request, etag, moment, headers)
    if unchanged is not None:
        return unchanged

    versions, files = services.project_files(request, request.dbsession, package)
    api_version = upstream_pages.declared_api_version(package, services.API_VERSION)
    if project_status.files_hidden(package):
        files = []
    if content_type == V1_JSON:
        data = {
            "meta": {"api-version": api_version, "_last-serial": serial},
            "name": package.normalized_name,
            "versions": versions,
            "files": FILES_PLACEHOLDER,
        }
        # The files written as text (services.files_json), in the place json.dumps kept.
        body = _json(upstream_pages.add_declarations(data, package)).replace(
            _json(FILES_PLACEHOLDER).rstrip("\n"), services.files_json(files), 1
        )
    else:
        body = render(
            "pypi_web:templates/simple/detail.pt",
            {
                "api_version": api_version,
                "name": package.normalized_name,
                "links": services.file_links_html(files),
                "serial": serial,
                **upstream_pages.html_declarations(package),
            },
            request=request,
        )
    return _response(body, content_type, headers)


# Stored paths carry the file's hash: the bytes behind a URL never change.
FILE_CACHE_CONTROL = "public, max-age=31536000, immutable"
CONTENT_TYPES = {".whl": "application/zip", ".zip": "application/zip", ".gz": "application/gzip"}


def _file_not_found(message: str) -> Response:
    # Returned, not raised: the site's not-found page would offer "<path>/", a
    # redirect that makes no sense for a file.
    return Response(message + "\n", status=404, content_type="text/plain", charset="utf-8")


@view_config(route_name="file", request_method="GET")
def download(request):
    relative = "/".join(request.matchdict["subpath"])
    is_metadata = relative.endswith(METADATA_SUFFIX)
    base = relative.removesuffix(METADATA_SUFFIX)
    match = STORED_PATH.match(base)
    if match is None:
        return _file_not_found("There is no such file.")
    # Only files whose upload committed are served (the filename is unique).
    row = request.dbsession.execute(
        select(ReleaseFile.path, ReleaseFile.core_metadata_sha256_digest, Package.status)
        .join(Release, Release.id == ReleaseFile.release_id)
        .join(Package, Package.id == Release.package_id)
        .where(ReleaseFile.filename == match.group(2))
    ).first()
    if row is not None and row.status == project_status.QUARANTINED:
        return _file_not_found("This project is quarantined: its files are not served.")
    if row is None or row.path != base or (is_metadata and row.core_metadata_sha256_digest is None):
        return _file_not_found("There is no such file.")
    path = request.file_storage.full_path(relative)
    if path is None:
        return _file_not_found("The file is missing from storage.")
    if is_metadata:
        content_type = "text/plain"
    else:
        suffix = "." + base.rsplit(".", 1)[-1]
        content_type = CONTENT_TYPES.get(suffix, "application/octet-stream")
    response = FileResponse(str(path), request=request, content_type=content_type)
    response.cache_control = FILE_CACHE_CONTROL
    response.etag = match.group(1) + ("-metadata" if is_metadata else "")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.conditional_response = True
    return response
