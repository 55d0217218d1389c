"""A hostile Host (or X-Forwarded-Host) never reaches a URL: they come from the public URL."""

from __future__ import annotations

import pytest
import webtest

from pypi_web import main
from pypi_web.config import ConfigError

PUBLIC = "https://pypi.example.org"
HOSTILE = "evil.example.net"


@pytest.fixture(scope="module")
def public_app(dbengine, app_settings):
    settings = {
        **app_settings,
        "pypi_web.public_url": PUBLIC,
        "pypi_web.allowed_hosts": "pypi-web.internal:6543",
    }
    return webtest.TestApp(main({}, dbengine=dbengine, **settings))


def get(client, path: str, host: str, **headers):
    return client.get(path, headers={"Host": host, **headers}, expect_errors=True)


@pytest.mark.parametrize("host", [HOSTILE, f"{HOSTILE}:443", "127.0.0.1", "pypi.example.org.evil"])
def test_a_host_the_site_does_not_serve_is_400_with_a_message(public_app, host):
    response = get(public_app, "/simple/requests/", host)
    assert response.status_int == 400
    assert "This site does not serve the host" in response.text
    assert response.content_type == "text/plain"


@pytest.mark.parametrize(
    "host", ["pypi.example.org", "PYPI.example.org:443", "pypi-web.internal:6543"]
)
def test_the_public_and_allowed_hosts_get_the_public_urls(public_app, host):
    redirect = get(public_app, "/simple/Requests/", host)
    assert redirect.status_int == 301
    assert redirect.headers["Location"] == f"{PUBLIC}/simple/requests/"
    page = get(public_app, "/simple/requests/", host)
    assert page.status_int == 200
    assert "internal" not in page.text
    links = get(public_app, "/pypi/requests/json", host).json
    assert links["info"]["project_url"] == f"{PUBLIC}/project/requests/"


def test_a_hostile_host_never_appears_in_a_location_or_a_link(public_app):
    # Behind the proxy waitress turns X-Forwarded-Host into the Host; both are refused.
    for path in (
        "/simple/Requests/",
        "/project/Requests/",
        "/simple/requests/",
        "/pypi/requests/json",
    ):
        response = get(public_app, path, HOSTILE)
        assert HOSTILE not in response.headers.get("Location", "")
        assert HOSTILE.encode() not in response.body.replace(b"host 'evil", b"")


@pytest.mark.parametrize(
    "url", ["ftp://pypi.example.org", "https://", "https://pypi.example.org/sub/"]
)
def test_a_public_url_the_site_cannot_use_is_refused_at_start(dbengine, app_settings, url):
    with pytest.raises(ConfigError, match=r"pypi_web\.public_url"):
        main({}, dbengine=dbengine, **app_settings, **{"pypi_web.public_url": url})
