"""CSRF: every state-changing form needs the session's token (Pyramid's own check)."""

from __future__ import annotations

import pytest
from pyramid.interfaces import IRoutesMapper

from ..accounts.helpers import csrf_token, log_in
from .conftest import placeholders, site_routes

EXPLANATION = "The form was sent without its security token, or the token has expired."


@pytest.mark.parametrize(
    "path",
    [
        "/account/login/",
        "/account/register/",
        "/account/logout/",
        "/account/password/",
        "/account/tokens/",
        "/account/tokens/1/revoke/",
    ],
)
def test_account_forms_without_a_token_are_refused(testapp, make_user, path):
    make_user("csrfvictim")
    log_in(testapp, "csrfvictim")
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        response = testapp.post(path, data, status=400)
        text = " ".join(response.text.split())
        assert "This form could not be accepted" in text
        assert EXPLANATION in text
        assert "Nothing was changed." in text
    # Still logged in: not even logout happened.
    assert testapp.get("/account/").status_int == 200


def test_the_token_in_a_header_is_accepted_too(testapp, make_user):
    make_user("headeruser")
    log_in(testapp, "headeruser")
    token = csrf_token(testapp.get("/account/"))
    response = testapp.post(
        "/account/tokens/", {"description": "via header"}, headers={"X-CSRF-Token": token}
    )
    assert response.status_int == 200
    assert "via header" in response.text


def test_a_token_from_another_session_is_refused(testapp, second_browser, make_user):
    make_user("one")
    make_user("two")
    log_in(testapp, "one")
    log_in(second_browser, "two")
    their_token = csrf_token(second_browser.get("/account/"))
    testapp.post("/account/tokens/", {"csrf_token": their_token, "description": "x"}, status=400)


def test_every_state_changing_route_requires_the_token(app, testapp, make_user):
    """A POST without a token to any route does nothing (refused, or 404 where POST means nothing).

    The upload API is the one exception: twine authenticates it with a token
    and sends no session at all.
    """
    make_user("everywhere")
    log_in(testapp, "everywhere")
    known = {"name": "requests", "username": "everywhere", "subpath": "css/site.css"}
    checked = 0
    for route in site_routes(app):
        if route.name == "upload":
            continue
        path = route.generate({n: known.get(n, "1") for n in placeholders(route)})
        response = testapp.post(path, {"field": "value"}, expect_errors=True)
        # 400/403: the CSRF check; 404/405: no POST view; 3xx: a redirect
        # (to the canonical URL) that changed nothing. Never a 2xx or a 5xx.
        assert 300 <= response.status_int < 500, (route.name, response.status)
        checked += 1
    assert checked >= len(app.registry.getUtility(IRoutesMapper).get_routes()) // 2


def test_https_posts_from_another_origin_are_refused(testapp, make_user):
    make_user("origin")
    log_in(testapp, "origin")
    token = csrf_token(testapp.get("/account/"))
    response = testapp.post(
        "/account/tokens/",
        {"csrf_token": token, "description": "x"},
        headers={"Origin": "https://evil.example", "Referer": "https://evil.example/"},
        extra_environ={"wsgi.url_scheme": "https"},
        status=400,
    )
    assert "sent from another site" in response.text
