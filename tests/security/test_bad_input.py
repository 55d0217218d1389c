"""Hostile or broken input gets a 4xx with a clear message, never a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from pyramid.config import Configurator

from pypi_web import security

from ..accounts.helpers import csrf_token

FORM = "application/x-www-form-urlencoded"


def message_of(response) -> str:
    return " ".join(response.text.split())


@pytest.mark.parametrize(
    ("path", "query", "status", "message"),
    [
        (b"/project/\xff\xfe/", b"", 400, "The URL path is not valid UTF-8."),
        (b"/user/\xc3/", b"", 400, "The URL path is not valid UTF-8."),
        (b"/simple/\xe9t\xe9/", b"", 400, "The URL path is not valid UTF-8."),
        (b"/", b"q=%ff", 400, "The query string is not valid UTF-8."),
        (b"/search/", b"q=%c3%28", 400, "The query string is not valid UTF-8."),
        (b"/about/", b"q=\xff\xfe", 400, "The query string is not valid UTF-8."),
        (b"/about/", b"%ff=1", 400, "The query string is not valid UTF-8."),
        (b"/project/a\x00b/", b"", 400, "The URL path contains a NUL character."),
        (b"/user/a\r", b"", 400, "The URL path contains control characters."),
        (b"/files/x\r\nSet-Cookie: a=b", b"", 400, "The URL path contains control characters."),
        (b"/about/\x1b[31m", b"", 400, "The URL path contains control characters."),
        (b"/", b"q=%00", 400, "The query string contains a NUL character."),
        (b"/files/x", b"a=\x01", 400, "The query string contains control characters"),
        (b"/search/", b"q=a\tb", 400, "The query string contains control characters"),
        (b"/search/", b"q=abc%00def", 400, "The query string contains a NUL character."),
        (b"/project/" + b"x" * 3000 + b"/", b"", 414, "longer than 2048 bytes"),
        (b"/search/", b"q=" + b"x" * 9000, 414, "longer than 8192 bytes"),
        (b"/", b"&".join(b"p%d=1" % i for i in range(300)), 400, "more than 256 parameters"),
    ],
)
def test_unreadable_urls_are_400(raw_client, path, query, status, message):
    response = raw_client.request("GET", path, query)
    assert response.status_code == status
    assert message in message_of(response)
    assert response.content_type == "text/html"
    # The error page is a page of the site: headers and stylesheet included.
    assert "Content-Security-Policy" in response.headers
    assert "/static/css/site.css" in response.text


@pytest.mark.parametrize(
    "query", [b"&&&==&=&", b"q=%", b"q=%zz", b"=;;;", b"q", b"q=%2", b"a[b]=c&a[]=d", b"++"]
)
def test_malformed_but_decodable_query_strings_are_ignored(raw_client, query):
    response = raw_client.request("GET", "/", query)
    assert response.status_code == 200


def form_post(raw_client, testapp, body: bytes, content_type: str = FORM, path="/account/login/"):
    cookie = testapp.cookies.get("session")
    headers = {"Cookie": f"session={cookie}"} if cookie else {}
    return raw_client.request("POST", path, b"", body, content_type, headers)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"username=%ff%fe&password=x", FORM, 400, "The form data is not valid UTF-8."),
        (b"username=\xff\xfe&password=x", FORM, 400, "The form data is not valid UTF-8."),
        (b"username=a%00b&password=x", FORM, 400, "The form data contains a NUL character."),
        (b"a=b", FORM + "; charset=no-such-charset", 400, "declares another charset"),
        (b"a=b", FORM + "; charset=latin-1", 400, "declares another charset"),
        (b"a=b&csrf_token=x", FORM + "; charset=UTF-8", 400, "security token"),
        (b"--x\r\nfoo", "multipart/form-data; boundary=x", 400, "security token"),
        (b"--x\r\nContent-Disposition: form-data\r\n\r\n", "multipart/form-data", 400, "read"),
        (b"&".join(b"f%d=1" % i for i in range(300)), FORM, 400, "more than 256 fields"),
        (b"username=" + b"x" * (2 * 1024 * 1024), FORM, 413, "larger than 1048576 bytes"),
    ],
)
def test_unreadable_forms_are_rejected(raw_client, testapp, body, content_type, status, message):
    response = form_post(raw_client, testapp, body, content_type)
    assert response.status_code == status
    assert message in message_of(response)


def test_form_limit_is_a_setting(dbengine, app_settings):
    import webtest

    from pypi_web import main

    app = main({}, dbengine=dbengine, **{**app_settings, "security.max_form_bytes": "100"})
    response = webtest.TestApp(app).post(
        "/account/login/", {"username": "x" * 200}, expect_errors=True
    )
    assert response.status_int == 413
    assert "larger than 100 bytes" in response.text


def test_a_well_formed_login_still_works_after_the_checks(testapp, make_user):
    from ..accounts.helpers import log_in

    make_user("checked")
    assert log_in(testapp, "checked").status_int == 303


@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "<script>alert(1)</script>",
        "名前",
        "x" * 300,
        "requests%00",
        "%20%20",
        "'; DROP TABLE packages; --",
        "\u202e\u200b",
        "a/b",
        "-._",
        "\U0001f40d",
    ],
)
def test_odd_names_are_404_not_500(testapp, name):
    name = quote(name, safe="%/")
    for path in (f"/project/{name}/", f"/user/{name}/", f"/project/requests/{name}/"):
        response = testapp.get(path, expect_errors=True)
        # 301: a project name that normalises to a known one; 400: %00 is a NUL.
        assert response.status_int in (301, 400, 404), (path, response.status)
        if response.status_int == 404:
            assert "<script>alert(1)</script>" not in response.text


def test_garbage_cookies_are_ignored(raw_client):
    for cookie in ("session=\xff\xfe", "session=garbage", "session=" + "A" * 4000, "=;=;;"):
        response = raw_client.request("GET", "/account/", headers={"Cookie": cookie})
        assert response.status_code == 303  # not logged in: off to the login page


def test_unknown_token_ids_are_404(testapp, make_user):
    from ..accounts.helpers import log_in

    make_user("ids")
    log_in(testapp, "ids")
    token = csrf_token(testapp.get("/account/"))
    for token_id in ("abc", "-1", "0", "99999999999999999999999", "1e9", "%20"):
        response = testapp.post(
            f"/account/tokens/{token_id}/revoke/", {"csrf_token": token}, expect_errors=True
        )
        assert response.status_int in (400, 404), (token_id, response.status)


def test_undecodable_text_reaching_a_view_is_400():
    """The backstop: a view that meets bytes the tween let through (the upload route)."""
    import webtest

    def view(request):
        b"\xff".decode("utf-8")

    with Configurator(settings={}) as config:
        config.include("pyramid_chameleon")
        config.add_static_view("static", "pypi_web:static")
        config.add_route("decoding", "/decoding/")
        config.add_view(view, route_name="decoding")
        config.scan(security)
    response = webtest.TestApp(config.make_wsgi_app()).get("/decoding/", expect_errors=True)
    assert response.status_int == 400
    assert "not UTF-8" in response.text


@pytest.mark.parametrize("path", ["/user/☃", "/simple/名前", "/manage/project/é"])
def test_redirects_to_non_ascii_paths_are_percent_encoded(raw_client, path):
    """The slash-appending redirect echoes the path; headers must stay ASCII (waitress)."""
    response = raw_client.request("GET", path)
    assert response.status_code == 301
    assert response.location.isascii()
    assert response.location == "http://localhost" + quote(path) + "/"


@pytest.mark.parametrize(
    "page", ["abc", "-1", "0", "1.5", "1e3", "0x10", "99999999999999999999", "501", "٣", "1 2"]
)
def test_bad_search_page_numbers_are_400_with_a_message(testapp, page):
    response = testapp.get("/search/", {"q": "requests", "page": page}, status=400)
    assert "The page number must be" in message_of(response)


def test_an_over_long_search_query_is_400_with_a_message(testapp):
    response = testapp.get("/search/", {"q": "requests " * 200}, status=400)
    assert "The search query is longer than 1,000 characters." in message_of(response)


def test_a_search_full_of_odd_characters_is_answered(testapp):
    for q in ("%%%", "'; DROP TABLE packages; --", "\\", "名前", "\U0001f40d", "a" * 1000, "-"):
        assert testapp.get("/search/", {"q": q}).status_int == 200
