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


class BadInput(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


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


def check_request(request, max_form_bytes: int) -> None:
    """Raise BadInput when the request cannot be read safely."""
    environ = request.environ
    raw_path = environ.get("PATH_INFO", "")
    if len(raw_path) > MAX_PATH_BYTES:
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

    query = environ.get("QUERY_STRING", "")
    if len(query) > MAX_QUERY_BYTES:
        raise BadInput(414, f"The query string is longer than {MAX_QUERY_BYTES} bytes.")
    if _has_control_characters(query):
        raise BadInput(400, "The query string contains control characters (encode them as %XX).")
    try:
        params = request.GET
        items = list(params.items())
    except (UnicodeDecodeError, LookupError, ValueError):
        raise BadInput(400, "The query string is not valid UTF-8.") from None
    if len(items) > MAX_PARAMETERS:
        raise BadInput(400, f"The query string has more than {MAX_PARAMETERS} parameters.")
    if _has_nul(k for k, _ in items) or _has_nul(v for _, v in items):
        raise BadInput(400, "The query string contains a NUL character.")

    try:
        dict(request.cookies)
    except (UnicodeDecodeError, ValueError):
        raise BadInput(400, "A cookie is not valid UTF-8.") from None

    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if _allows_large_body(request):
        return
    length = request.content_length or 0
    if length > max_form_bytes:
        raise BadInput(413, f"The request body is larger than {max_form_bytes} bytes.")
    if request.content_type not in FORM_TYPES:
        return
    declared = request.headers.get("Content-Type", "").lower()
    if "charset=" in declared and request.charset.lower().replace("_", "-") not in UTF8_NAMES:
        raise BadInput(400, "The form data is not valid UTF-8 (it declares another charset).")
    if request.content_type == "application/x-www-form-urlencoded" and not _is_utf8_form(
        request.body
    ):
        raise BadInput(400, "The form data is not valid UTF-8.")
    try:
        form = list(request.POST.items())
    except (UnicodeDecodeError, LookupError):
        raise BadInput(400, "The form data is not valid UTF-8.") from None
    except Exception:
        # The multipart parser fails in many ways on a malformed body.
        log.info("unreadable form body on %s", path, exc_info=True)
        raise BadInput(400, "The form data could not be read (malformed body).") from None
    if len(form) > MAX_PARAMETERS:
        raise BadInput(400, f"The form has more than {MAX_PARAMETERS} fields.")
    if _has_nul(k for k, _ in form) or _has_nul(v for _, v in form):
        raise BadInput(400, "The form data contains a NUL character.")
    if request.content_type == "multipart/form-data" and any(
        "\ufffd" in text for k, v in form for text in (k, v) if isinstance(text, str)
    ):
        # WebOb decodes multipart fields leniently; U+FFFD marks bytes it replaced.
        raise BadInput(400, "The form data is not valid UTF-8.")


def bad_input_response(request, error: BadInput) -> Response:
    # Self-contained on purpose: the layout reads the very path and query that
    # could not be decoded. The stylesheet keeps it looking like the site.
    reason = {400: "Bad request", 413: "Request too large", 414: "URL too long"}[error.status]
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
    return Response(body, status=error.status, content_type="text/html", charset="utf-8")


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

    def input_check_tween(request):
        try:
            check_request(request, max_form_bytes)
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
