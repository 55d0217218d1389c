"""Security headers on every response; the debug toolbar's exemption."""

from __future__ import annotations

import pytest

from pypi_web import security

from .conftest import placeholders, site_routes


def assert_security_headers(response):
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    directives = {}
    for directive in csp.split(";"):
        name, _, value = directive.strip().partition(" ")
        directives[name] = value
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["form-action"] == "'self'"
    assert "http:" not in directives["img-src"].split()
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/about/", 200),
        ("/project/requests/", 200),
        ("/account/login/", 200),
        ("/account/register/", 200),
        ("/account/", 303),
        ("/no/such/page/", 404),
        ("/project/no-such-project-at-all/", 404),
        ("/static/css/site.css", 200),
        ("/static/favicon.svg", 200),
        ("/static/no-such-file.css", 404),
        ("/favicon.ico", 301),
        ("/about", 301),
        ("/_status/schema", 200),
        ("/?q=%ff", 400),
    ],
)
def test_every_response_has_the_security_headers(testapp, path, status):
    response = testapp.get(path, status=status)
    assert_security_headers(response)


def test_post_responses_and_csrf_errors_have_them_too(testapp):
    response = testapp.post("/account/login/", {"username": "x"}, status=400)
    assert_security_headers(response)


def test_every_registered_route_answers_with_the_headers(app, testapp):
    """Whatever other features add: each route's GET carries the headers."""
    known = {"name": "requests", "username": "nobody", "subpath": "x"}
    for route in site_routes(app):
        path = route.generate({name: known.get(name, "1") for name in placeholders(route)})
        response = testapp.get(path, expect_errors=True)
        assert response.status_int < 500, (route.name, path, response.status)
        assert_security_headers(response)


def test_hsts_only_over_https(testapp):
    assert "Strict-Transport-Security" not in testapp.get("/about/").headers
    secure = testapp.get("/about/", extra_environ={"wsgi.url_scheme": "https"})
    assert secure.headers["Strict-Transport-Security"] == security.HSTS


def test_pages_use_no_inline_script_or_style(testapp):
    """The CSP would block them: the site's own pages must not need them."""
    for path in ("/", "/about/", "/project/requests/", "/account/login/", "/account/register/"):
        html = testapp.get(path).html
        assert html.find("script", src=False) is None, path
        assert html.find("style") is None, path
        assert html.find(style=True) is None, path
        for element in html.find_all(True):
            assert not any(a.lower().startswith("on") for a in element.attrs), (path, element)


def test_debug_toolbar_pages_are_exempt_but_site_pages_are_not(dbengine, app_settings):
    import webtest

    from pypi_web import main

    settings = {
        **app_settings,
        "pyramid.includes": "pyramid_debugtoolbar",
        "debugtoolbar.hosts": "127.0.0.1",
    }
    app = webtest.TestApp(
        main({}, dbengine=dbengine, **settings), extra_environ={"REMOTE_ADDR": "127.0.0.1"}
    )
    page = app.get("/about/")
    assert_security_headers(page)
    assert "pDebugToolbarHandle" in page.text  # the toolbar is on this page
    toolbar = app.get("/_debug_toolbar/")
    # The toolbar's own pages use inline scripts; they never pass the tween.
    assert "Content-Security-Policy" not in toolbar.headers
    assert toolbar.html.find("script", src=False) is not None


def test_a_server_error_page_has_the_headers_too():
    import webtest
    from pyramid.config import Configurator
    from pyramid.view import exception_view_config

    def broken(request):
        raise RuntimeError("boom")

    @exception_view_config(RuntimeError)
    def server_error(exc, request):
        request.response.status = 500
        request.response.text = "sorry"
        return request.response

    with Configurator(settings={}) as config:
        config.include("pypi_web.security")
        config.add_route("broken", "/broken/")
        config.add_view(broken, route_name="broken")
        config.add_exception_view(server_error, RuntimeError)
    response = webtest.TestApp(config.make_wsgi_app()).get("/broken/", status=500)
    assert_security_headers(response)


def test_pages_that_read_the_session_vary_on_cookie(testapp):
    assert "Cookie" in testapp.get("/about/").headers.get("Vary", "")
    assert "Cookie" in testapp.get("/account/login/").headers.get("Vary", "")
    # Static files never touch the session.
    assert "Cookie" not in testapp.get("/static/css/site.css").headers.get("Vary", "")
