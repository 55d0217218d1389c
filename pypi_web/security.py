"""What keeps the site safe on the internet: headers, input sanity, CSRF.

Two tweens, outside the transaction and the exception views:

* The first of all tweens turns requests that cannot be read into a 4xx
  before anything reads them (the debug toolbar's tween included, which
  fails on a path that is not UTF-8), so no view, template or database ever
  meets them. That covers a path, query
  string or form that is not UTF-8, NUL characters (Postgres refuses them in
  text), control characters in the path, over-long URLs, too many
  parameters, form bodies over ``security.max_form_bytes``, and unreadable
  cookies. Warehouse's sanity tweens do the same. Only the upload route may
  send a large body; its view enforces its own limit.
* The second puts the security headers on every response, including 404s, redirects,
  static files and its own 400s, and percent-encodes a redirect's Location
  that echoes a non-ASCII path (waitress cannot send it raw).

The Content-Security-Policy allows no inline script or style. Its one
allowance is ``img-src https:``: project descriptions show badges and
screenshots from other sites. pypi.org routes those through an image proxy
(camo); this site has none. Plain ``http:`` images stay blocked, and the
Referrer-Policy sends other sites only our origin.

The debug toolbar (development only) serves its own pages with inline
scripts. The headers tween sits *under* the toolbar's tween, so the toolbar's
pages and its interactive tracebacks never pass through it. The site's pages get
the strict policy even with the toolbar on; the button the toolbar adds to
them is a plain link and a same-origin stylesheet.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote_to_bytes

from pyramid.csrf import SessionCSRFStoragePolicy
from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken
from pyramid.interfaces import IRoutesMapper
from pyramid.response import Response
from pyramid.tweens import EXCVIEW, INGRESS
from pyramid.view import exception_view_config
from pyramid_retry import mark_error_retryable
from sqlalchemy.exc import IntegrityError

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000"

MAX_PATH_BYTES = 2048
MAX_QUERY_BYTES = 8192
MAX_PARAMETERS = 256
DEFAULT_MAX_FORM_BYTES = 1024 * 1024
# The route whose body may be large (twine's uploads); its view checks the size.
LARGE_BODY_ROUTES = ("upload",)
# Characters a URL may carry unencoded (RFC 3986 reserved and unreserved, and %).
URL_SAFE = ":/?#[]@!$&'()*+,;=-._~%"
UTF8_NAMES = ("utf-8", "utf8")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class BadInput(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class RouteMethods:
    """The methods each route's views serve, read once from the configuration.

    A view without a request_method predicate serves reads (GET and HEAD):
    its route answers any method today, the home page included, which a
    well-behaved server does not.
    """

    READS = ("GET", "HEAD")
    ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

    def __init__(self, registry):
        self.mapper = registry.queryUtility(IRoutesMapper)
        by_route: dict[str, set[str]] = {}
        for view in registry.introspector.get_category("views"):
            introspectable = view["introspectable"]
            route = introspectable["route_name"]
            if route is None:
                continue
            methods = introspectable["request_methods"] or self.READS
            if isinstance(methods, str):
                methods = (methods,)
            by_route.setdefault(route, set()).update(methods)
        self.by_route = {
            route: tuple(m for m in self.ORDER if m in methods)
            for route, methods in by_route.items()
        }

    def for_path(self, path: str) -> tuple[str, ...]:
        """The methods of the first route matching ``path`` (reads where none matches)."""
        for route in self.mapper.get_routes() if self.mapper is not None else ():
            if route.match(path) is not None:
                return self.by_route.get(route.name, self.READS)
        return self.READS


def _has_nul(values) -> bool:
    return any("\x00" in v for v in values if isinstance(v, str))


def _has_control_characters(text: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


def _is_utf8_form(body: bytes) -> bool:
    # WebOb decodes urlencoded bodies with errors="replace", so check the bytes.
    for pair in body.replace(b";", b"&").split(b"&"):
        for part in pair.split(b"=", 1):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return False
    return True


def _allows_large_body(request) -> bool:
    mapper = request.registry.queryUtility(IRoutesMapper)
    if mapper is None:
        return False
    for name in LARGE_BODY_ROUTES:
        route = mapper.get_route(name)
        if route is not None and route.match(request.path_info) is not None:
            return True
    return False


def check_path(request) -> str:
    """The decoded URL path; BadInput when it is too long, not UTF-8, or holds controls."""
    if len(request.environ.get("PATH_INFO", "")) > MAX_PATH_BYTES:
        raise BadInput(414, f"The URL path is longer than {MAX_PATH_BYTES} bytes.")
    try:
        path = request.path_info
    except UnicodeDecodeError:
        raise BadInput(400, "The URL path is not valid UTF-8.") from None
    if "\x00" in path:
        raise BadInput(400, "The URL path contains a NUL character.")
    if _has_control_characters(path):
        # Never part of a real URL; echoed into a redirect they would break the header.
        raise BadInput(400, "The URL path contains control characters.")
    return path


def check_query(request) -> None:
    query = request.environ.get("QUERY_STRING", "")
    if len(query) > MAX_QUERY_BYTES:
        raise BadInput(414, f"The query string is longer than {MAX_QUERY_BYTES} bytes.")
    if _has_control_characters(query):
        raise BadInput(400, "The query string contains control characters (encode them as %XX).")
    try:
        items = list(request.GET.items())
    except (UnicodeDecodeError, LookupError, ValueError):
        raise BadInput(400, "The query string is not valid UTF-8.") from None
    if len(items) > MAX_PARAMETERS:
        raise BadInput(400, f"The query string has more than {MAX_PARAMETERS} parameters.")
    if _has_nul(k for k, _ in items) or _has_nul(v for _, v in items):
        raise BadInput(400, "The query string contains a NUL character.")


def check_cookies(request) -> None:
    try:
        dict(request.cookies)
    except (UnicodeDecodeError, ValueError):
        raise BadInput(400, "A cookie is not valid UTF-8.") from None


def check_method(request, path: str, allowed: RouteMethods) -> None:
    """405 with ``Allow`` for a method the matched route's views do not serve."""
    if request.method in ("GET", "HEAD", "POST"):
        return  # the views' own predicates decide (a POST-only route's GET is a 404)
    methods = allowed.for_path(path)
    raise BadInput(
        405,
        f"The method {request.method[:20]} is not allowed here: use {' or '.join(methods)}.",
        headers={"Allow": ", ".join(methods)},
    )


def _form_items(request, path: str) -> list:
    try:
        if request.method in BODY_METHODS:
            return list(request.POST.items())
        # WebOb parses a body only for the methods that usually carry one.
        return _parsed_body(request)
    except (UnicodeDecodeError, LookupError):
        raise BadInput(400, "The form data is not valid UTF-8.") from None
    except Exception:
        # The multipart parser fails in many ways on a malformed body.
        log.info("unreadable form body on %s", path, exc_info=True)
        raise BadInput(400, "The form data could not be read (malformed body).") from None


def _parsed_body(request) -> list:
    """The form a GET or HEAD carries, parsed as a POST's would be (the view ignores it)."""
    copy = request.copy()
    copy.method = "POST"
    return list(copy.POST.items())


def check_form(request, path: str, max_form_bytes: int) -> None:
    """A form body, whatever the method, must be small, UTF-8 and free of NULs."""
    if _allows_large_body(request):
        return
    length = request.content_length or 0
    if length > max_form_bytes:
        raise BadInput(413, f"The request body is larger than {max_form_bytes} bytes.")
    if not length or request.content_type not in FORM_TYPES:
        return
    declared = request.headers.get("Content-Type", "").lower()
    if "charset=" in declared and request.charset.lower().replace("_", "-") not in UTF8_NAMES:
        raise BadInput(400, "The form data is not valid UTF-8 (it declares another charset).")
    if request.content_type == "application/x-www-form-urlencoded" and not _is_utf8_form(
        request.body
    ):
        raise BadInput(400, "The form data is not valid UTF-8.")
    form = _form_items(request, path)
    if len(form) > MAX_PARAMETERS:
        raise BadInput(400, f"The form has more than {MAX_PARAMETERS} fields.")
    if _has_nul(k for k, _ in form) or _has_nul(v for _, v in form):
        raise BadInput(400, "The form data contains a NUL character.")
    if request.content_type == "multipart/form-data" and any(
        "\ufffd" in text for k, v in form for text in (k, v) if isinstance(text, str)
    ):
        # WebOb decodes multipart fields leniently; U+FFFD marks bytes it replaced.
        raise BadInput(400, "The form data is not valid UTF-8.")


def check_request(request, max_form_bytes: int, allowed: RouteMethods) -> None:
    """Raise BadInput when the request cannot be read safely."""
    path = check_path(request)
    check_query(request)
    check_cookies(request)
    check_method(request, path, allowed)
    check_form(request, path, max_form_bytes)


def bad_input_response(request, error: BadInput) -> Response:
    # Self-contained on purpose: the layout reads the very path and query that
    # could not be decoded. The stylesheet keeps it looking like the site.
    reason = {
        400: "Bad request",
        405: "Method not allowed",
        413: "Request too large",
        414: "URL too long",
    }[error.status]
    css = request.static_path("pypi_web:static/css/site.css")
    body = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{reason} ({error.status}) · pypi_web</title>"
        f'<link rel="stylesheet" href="{css}"></head><body><main id="content">'
        f'<div class="container narrow error-page"><p class="error-code">{error.status}</p>'
        f"<h1>{reason}</h1><p>{error.message}</p>"
        '<p><a href="/">Back to the home page</a></p></div></main></body></html>\n'
    )
    response = Response(body, status=error.status, content_type="text/html", charset="utf-8")
    response.headers.update(error.headers)
    return response


def ascii_location(response) -> None:
    """Percent-encode a Location holding raw non-ASCII text (an echoed URL path).

    HTTP headers are Latin-1 at best; waitress fails the whole response on
    anything else, so a redirect to ``/user/☃/`` would otherwise be a 500.
    """
    location = response.headers.get("Location")
    if location and not location.isascii():
        response.headers["Location"] = quote(location, safe=URL_SAFE)


def add_security_headers(request, response) -> None:
    # One pass over the header list (WebOb's per-header set scans it each time).
    present = {name.lower() for name, _ in response.headerlist}
    response.headerlist.extend(
        (name, value) for name, value in SECURITY_HEADERS.items() if name.lower() not in present
    )
    if request.scheme == "https":
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if "session" in request.__dict__:
        # The page read the session (the header shows who is logged in): a
        # shared cache must never give it to another visitor.
        vary = tuple(response.vary or ())
        if "Cookie" not in vary:
            response.vary = (*vary, "Cookie")


def input_check_tween_factory(handler, registry):
    max_form_bytes = int(registry.settings.get("security.max_form_bytes", DEFAULT_MAX_FORM_BYTES))
    allowed = RouteMethods(registry)

    def input_check_tween(request):
        try:
            check_request(request, max_form_bytes, allowed)
        except BadInput as error:
            response = bad_input_response(request, error)
            add_security_headers(request, response)
            return response
        return handler(request)

    return input_check_tween


def security_tween_factory(handler, registry):
    def security_tween(request):
        response = handler(request)
        ascii_location(response)
        add_security_headers(request, response)
        return response

    return security_tween


@exception_view_config(UnicodeDecodeError)
def undecodable_input(exc, request):
    """A backstop for input the tween let through (the upload route's body)."""
    return bad_input_response(
        request, BadInput(400, "The request contains text that is not UTF-8.")
    )


@exception_view_config(BadCSRFToken, renderer="pypi_web:templates/accounts/form_expired.pt")
@exception_view_config(BadCSRFOrigin, renderer="pypi_web:templates/accounts/form_expired.pt")
def bad_csrf(exc, request):
    request.response.status = 400
    if isinstance(exc, BadCSRFOrigin):
        reason = "The form was sent from another site."
    else:
        reason = "The form was sent without its security token, or the token has expired."
    return {"reason": reason}


def includeme(config):
    config.set_csrf_storage_policy(SessionCSRFStoragePolicy())
    # Every POST (PUT, DELETE, ...) needs the session's token unless its view
    # says require_csrf=False (only the upload API, which uses tokens).
    config.set_default_csrf_options(require_csrf=True)
    # A double submit (two registrations with one username at once) hits the
    # unique constraint; the retry then sees the first row and answers with
    # a form error instead of a 500.
    mark_error_retryable(IntegrityError)
    config.add_tween(
        "pypi_web.security.input_check_tween_factory",
        under=INGRESS,
        over=(
            "pyramid_debugtoolbar.toolbar_tween_factory",
            "pypi_web.security.security_tween_factory",
        ),
    )
    config.add_tween(
        "pypi_web.security.security_tween_factory",
        under=("pyramid_debugtoolbar.toolbar_tween_factory", INGRESS),
        over=("pyramid_tm.tm_tween_factory", EXCVIEW),
    )
