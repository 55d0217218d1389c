"""Whatever the method, the input checks apply; methods the site does not serve are 405."""

from __future__ import annotations

import pytest

from .test_bad_input import FORM, message_of

BROKEN_MULTIPART = (b"--x\r\nContent-Disposition: form-data\r\n\r\n", "multipart/form-data")


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"q=x", FORM + "; charset=latin-1", "declares another charset"),
        (b"q=%ff", FORM, "The form data is not valid UTF-8."),
        (b"q=a%00b", FORM, "The form data contains a NUL character."),
        (*BROKEN_MULTIPART, "could not be read"),
    ],
)
def test_a_bad_form_body_is_400_whatever_the_method(
    raw_client, method, body, content_type, message
):
    response = raw_client.request(method, "/search/", b"", body, content_type)
    assert response.status_code == 400
    if method != "HEAD":
        assert message in message_of(response)


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PROPFIND", "DELETE", "PUT", "BREW"])
@pytest.mark.parametrize("path", ["/", "/search/", "/project/requests/", "/account/login/"])
def test_methods_the_site_does_not_serve_are_405_with_allow(raw_client, method, path):
    response = raw_client.request(method, path)
    assert response.status_code == 405
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert {"GET", "HEAD"} <= allowed <= {"GET", "HEAD", "POST"}
    assert method not in allowed
    assert f"The method {method} is not allowed here" in message_of(response)


@pytest.mark.parametrize("method", ["OPTIONS", "PROPFIND", "BREW"])
def test_other_methods_with_a_broken_body_are_4xx_with_a_message(raw_client, method):
    response = raw_client.request(method, "/account/login/", b"", *BROKEN_MULTIPART)
    assert 400 <= response.status_code < 500
    assert "<h1>" in response.text and "pypi_web" in response.text


def test_allow_names_what_the_route_serves(raw_client):
    # The upload API is only ever posted to; the login page is read and posted.
    upload = raw_client.request("OPTIONS", "/legacy/")
    assert upload.status_code == 405
    assert upload.headers["Allow"] == "POST"
    login = raw_client.request("OPTIONS", "/account/login/")
    assert login.headers["Allow"] == "GET, HEAD, POST"


def test_the_methods_pages_serve_still_work(raw_client):
    assert raw_client.request("GET", "/").status_code == 200
    assert raw_client.request("HEAD", "/").status_code == 200
    assert raw_client.request("GET", "/search/", b"q=requests").status_code == 200


def test_a_cached_page_is_not_served_for_a_bad_form_body(cached_app, cached_testapp):
    from .conftest import RawClient

    raw = RawClient(cached_app, {})
    assert raw.request("GET", "/search/", b"q=requests").status_code == 200
    again = raw.request("GET", "/search/", b"q=requests", b"q=x", FORM + "; charset=latin-1")
    assert again.status_code == 400
    assert "declares another charset" in message_of(again)
