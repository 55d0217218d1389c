"""``/simple/`` and ``/simple/<name>/``: HTML (PEP 503) or JSON (PEP 691), and file downloads.

The representation is chosen by ``?format=<content type>`` when it names
one we serve, else by the Accept header; when nothing matches, HTML (as
PyPI does: never 406, since an old client that sends an odd Accept header
still understands HTML).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html import escape
from json.encoder import encode_basestring  # the C encoder, one string at a time

from pyramid.httpexceptions import HTTPMovedPermanently, HTTPNotFound
from pyramid.renderers import render
from pyramid.response import FileResponse, Response
from pyramid.view import view_config
from sqlalchemy import select

from pypi_web.files import METADATA_SUFFIX, STORED_PATH
from pypi_web.models import ReleaseFile
from pypi_web.packaging.names import is_valid_name, normalize

from . import caching, services

TEXT_HTML = "text/html"
V1_HTML = "application/vnd.pypi.simple.v1+html"
V1_JSON = "application/vnd.pypi.simple.v1+json"
LATEST = {
    "application/vnd.pypi.simple.latest+html": V1_HTML,
    "application/vnd.pypi.simple.latest+json": V1_JSON,
}
# Offer order breaks ties: "*/*" (or no Accept header) gets text/html.
OFFERS = [TEXT_HTML, V1_HTML, V1_JSON, *LATEST]
# Short tags for the ETag: one URL, three representations.
ETAG_KIND = {TEXT_HTML: "html", V1_HTML: "v1html", V1_JSON: "v1json"}
MAX_NAME_LENGTH = 200


def choose_content_type(request) -> str:
    # "+" typed into a browser's address bar arrives as a space.
    requested = request.GET.get("format", "").strip().lower().replace(" ", "+")
    requested = LATEST.get(requested, requested)
    if requested in ETAG_KIND:
        return requested
    acceptable = request.accept.acceptable_offers(OFFERS)
    if not acceptable:
        return TEXT_HTML
    best = acceptable[0][0]
    return LATEST.get(best, best)


def _response(body: str, content_type: str, headers: dict[str, str]) -> Response:
    response = Response(body=body.encode("utf-8"), content_type=content_type, charset="utf-8")
    response.headers.update(headers)
    return response


def _json(data: dict) -> str:
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
    name = request.matchdict["name"]
    if len(name) > MAX_NAME_LENGTH or not is_valid_name(name):
        raise HTTPNotFound(f"{name[:100]!r} is not a valid project name.")
    normalized = normalize(name)
    package = services.package_by_normalized_name(request.dbsession, normalized)
    if package is None:
        raise HTTPNotFound(f"There is no project named {name!r}.")
    if name != normalized:
        location = request.route_url("simple_detail", name=normalized)
        if request.query_string:
            location += "?" + request.query_string
        return HTTPMovedPermanently(location=location)

    content_type = choose_content_type(request)
    serial = package.last_serial
    moment = caching.package_serial_time(request.dbsession, package) or package.created
    etag = f"{serial}-{ETAG_KIND[content_type]}"
    headers = caching.cache_headers(serial, etag, moment, vary="Accept")
    unchanged = caching.not_modified(request, etag, moment, headers)
    if unchanged is not None:
        return unchanged

    versions, files = services.project_files(request, request.dbsession, package)
    if content_type == V1_JSON:
        body = _json(
            {
                "meta": {"api-version": services.API_VERSION, "_last-serial": serial},
                "name": package.normalized_name,
                "versions": versions,
                "files": [f.as_json() for f in files],
            }
        )
    else:
        body = render(
            "pypi_web:templates/simple/detail.pt",
            {
                "api_version": services.API_VERSION,
                "name": package.normalized_name,
                "files": files,
                "serial": serial,
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
        select(ReleaseFile.path, ReleaseFile.metadata_sha256_digest).where(
            ReleaseFile.filename == match.group(2)
        )
    ).first()
    if row is None or row.path != base or (is_metadata and row.metadata_sha256_digest is None):
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
