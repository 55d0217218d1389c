"""The site's public URL, and the Host headers it serves.

Every absolute URL the site writes (a redirect's Location, the file links of
/simple/ and the JSON API, canonical links) is built from the request's
scheme and Host. The Host is the client's to choose (and, from a trusted
proxy, X-Forwarded-Host), so left alone an attacker picks the links another
visitor gets from a shared cache, or a password-reset-style redirect. With
``pypi_web.public_url`` set (production.ini leaves it to PYPI_WEB_PUBLIC_URL),
this middleware, the outermost layer of the app:

* refuses a request whose Host is neither the public URL's nor one of
  ``pypi_web.allowed_hosts`` (other names the site answers to, such as its
  address inside the network): 400 with a message;
* rewrites the request's scheme, host and port to the public URL's, so every
  absolute URL is the public one, whichever allowed name the request used.

Without a public URL (development, the tests) the request's Host is used as
it comes.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from .config import ConfigError

log = logging.getLogger(__name__)

PUBLIC_URL = "pypi_web.public_url"
ALLOWED_HOSTS = "pypi_web.allowed_hosts"
DEFAULT_PORTS = {"http": "80", "https": "443"}


def _normal(host: str) -> str:
    """``host`` lower-cased, without a default port (either scheme's)."""
    host = host.strip().lower().rstrip(".")
    name, _, port = host.rpartition(":")
    if name and "]" not in port and port in DEFAULT_PORTS.values():
        return name
    return host


class PublicURL:
    def __init__(self, url: str, allowed_hosts: str = ""):
        parts = urlsplit(url.strip())
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ConfigError(
                f"{PUBLIC_URL} must be an http(s) URL such as https://pypi.example.org"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConfigError(f"{PUBLIC_URL} must be a site's root URL, without a path: {url!r}")
        self.scheme = parts.scheme
        self.host = parts.netloc.lower()
        self.server_name = parts.hostname
        self.port = str(parts.port or DEFAULT_PORTS[parts.scheme])
        self.served = {_normal(self.host)} | {_normal(h) for h in allowed_hosts.split() if h}

    def serves(self, host: str) -> bool:
        return _normal(host) in self.served

    def apply(self, environ) -> None:
        environ["wsgi.url_scheme"] = self.scheme
        environ["HTTP_HOST"] = self.host
        environ["SERVER_NAME"] = self.server_name
        environ["SERVER_PORT"] = self.port


def refuse_host(start_response, host: str):
    shown = host.encode("ascii", "backslashreplace").decode("ascii")[:100]
    body = (
        f"400 Bad Request\n\nThis site does not serve the host {shown!r}: use its public address.\n"
    ).encode()
    start_response(
        "400 Bad Request",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


class PublicHostMiddleware:
    def __init__(self, app, public: PublicURL):
        self.app = app
        self.public = public

    def __getattr__(self, name):
        # registry, close: what the server reads from the app it was given.
        return getattr(self.app, name)

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        if not self.public.serves(host):
            log.info("refused a request for host %r", host[:100])
            return refuse_host(start_response, host)
        self.public.apply(environ)
        return self.app(environ, start_response)


def wrap(app, settings):
    """``app`` behind the public URL's host check, when ``pypi_web.public_url`` is set."""
    url = (settings.get(PUBLIC_URL) or "").strip()
    if not url:
        return app
    return PublicHostMiddleware(app, PublicURL(url, settings.get(ALLOWED_HOSTS) or ""))
