"""Logging in and out, sessions, throttling, rehashing, password changes."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from pypi_web import audit
from pypi_web.accounts import services, throttle
from pypi_web.models import LoginThrottle, utcnow

from .helpers import PASSWORD, csrf_token, form_posting_to, log_in, page_text

WRONG = "The username or password is not correct."


def logged_in_as(testapp) -> str | None:
    link = testapp.get("/about/").html.select_one(".nav-account")
    return link.get_text(strip=True) if link is not None else None


def test_login_starts_a_session_and_goes_to_the_account_page(testapp, make_user, dbsession):
    user = make_user("Loginner")
    assert logged_in_as(testapp) is None
    response = log_in(testapp, "loginner")
    assert response.status_int == 303
    assert response.location.endswith("/account/")
    assert logged_in_as(testapp) == "Loginner"
    assert user.last_login is not None
    events = [e.tag for e in dbsession.query(audit.AuditEvent).filter_by(user_id=user.id)]
    assert throttle.LOGIN in events


def test_login_returns_to_a_local_next_page_only(testapp, make_user):
    make_user("returner")
    page = testapp.get("/account/login/", {"next": "/project/requests/"})
    form = form_posting_to(page, "/account/login/")
    form["username"], form["password"] = "returner", PASSWORD
    assert form.submit().location == "http://localhost/project/requests/"


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_login_never_redirects_off_site(testapp, make_user, target):
    make_user("staying")
    page = testapp.get("/account/login/", {"next": target})
    form = form_posting_to(page, "/account/login/")
    form["username"], form["password"] = "staying", PASSWORD
    assert form.submit().location == "http://localhost/account/"


def test_account_page_needs_a_login_and_comes_back_after_it(testapp, make_user):
    make_user("comeback")
    response = testapp.get("/account/")
    assert response.status_int == 303
    assert response.location == "http://localhost/account/login/?next=%2Faccount%2F"
    login_page = response.follow()
    form = form_posting_to(login_page, "/account/login/")
    form["username"], form["password"] = "comeback", PASSWORD
    assert form.submit().location == "http://localhost/account/"


def test_unknown_user_and_wrong_password_look_the_same(testapp, make_user, monkeypatch):
    make_user("realperson")
    verified = []

    class CountingHasher(PasswordHasher):
        def verify(self, stored, password):
            verified.append(stored)
            return super().verify(stored, password)

    monkeypatch.setattr(services, "password_hasher", CountingHasher())
    wrong_password = log_in(testapp, "realperson", "not the password")
    unknown_user = log_in(testapp, "nobody-here", "not the password")
    for response in (wrong_password, unknown_user):
        assert response.status_int == 400
        assert response.html.select_one(".form-summary").get_text(strip=True) == WRONG
    # Both cost exactly one Argon2 verification: the answer time does not
    # tell whether the account exists.
    assert len(verified) == 2
    assert all(h.startswith("$argon2id$") for h in verified)


def test_inactive_user_cannot_log_in_and_gets_the_same_message(testapp, make_user):
    user = make_user("sleeper")
    user.is_active = False
    response = log_in(testapp, "sleeper")
    assert response.status_int == 400
    assert response.html.select_one(".form-summary").get_text(strip=True) == WRONG


def test_deactivating_a_user_ends_their_session(testapp, make_user):
    user = make_user("deactivated")
    log_in(testapp, "deactivated")
    assert logged_in_as(testapp) == "deactivated"
    user.is_active = False
    assert logged_in_as(testapp) is None


def test_empty_fields_get_a_clear_message(testapp):
    response = log_in(testapp, "", "")
    assert response.status_int == 400
    assert "Enter your username and your password." in page_text(response)


def test_failures_are_recorded_with_username_and_address(testapp, dbsession):
    log_in(testapp, "Ghost", "whatever", REMOTE_ADDR="198.51.100.7")
    assert (
        audit.count_recent(dbsession, throttle.LOGIN_FAILED, throttle.WINDOW, username="ghost") == 1
    )
    assert (
        audit.count_recent(
            dbsession, throttle.LOGIN_FAILED, throttle.WINDOW, ip_address="198.51.100.7"
        )
        == 1
    )


def test_too_many_failures_for_one_account_are_throttled(testapp, make_user):
    make_user("targeted")
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME):
        assert log_in(testapp, "targeted", "guess guess").status_int == 400
    # Even the right password is refused now, before it is checked.
    response = log_in(testapp, "TARGETED", PASSWORD)
    assert response.status_int == 429
    assert response.headers["Retry-After"] == "900"
    assert "Too many failed login attempts for this account" in page_text(response)
    assert "15 minutes" in page_text(response)
    assert logged_in_as(testapp) is None
    # Another account from the same address is not affected.
    make_user("bystander")
    assert log_in(testapp, "bystander").status_int == 303
    # Nor the owner elsewhere: the guesses counted on the guesser's address.
    testapp.reset()
    assert log_in(testapp, "targeted", REMOTE_ADDR="192.0.2.50").status_int == 303


def test_unknown_usernames_are_throttled_too(testapp):
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME):
        log_in(testapp, "does-not-exist", "guess guess")
    response = log_in(testapp, "does-not-exist", "guess guess")
    assert response.status_int == 429
    assert "for this account" in page_text(response)


def test_too_many_failures_from_one_address_are_throttled(testapp, make_user, dbsession):
    make_user("victim")
    for index in range(throttle.MAX_FAILURES_PER_ADDRESS):
        log_in(testapp, f"user{index}", "guess guess", REMOTE_ADDR="203.0.113.9")
    response = log_in(testapp, "victim", PASSWORD, REMOTE_ADDR="203.0.113.9")
    assert response.status_int == 429
    assert "from your network address" in page_text(response)
    # The same account from another address logs in.
    assert log_in(testapp, "victim", PASSWORD, REMOTE_ADDR="192.0.2.1").status_int == 303


def test_old_failures_do_not_count(testapp, make_user, dbsession):
    make_user("patient")
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME):
        log_in(testapp, "patient", "guess guess")
    assert log_in(testapp, "patient").status_int == 429
    for row in dbsession.scalars(select(LoginThrottle)):
        row.window_start = utcnow() - throttle.WINDOW * 2
    dbsession.flush()
    assert log_in(testapp, "patient").status_int == 303


def test_a_successful_login_clears_the_account_count(testapp, make_user):
    make_user("forgetful")
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME - 1):
        log_in(testapp, "forgetful", "guess guess")
    assert log_in(testapp, "forgetful").status_int == 303
    testapp.post("/account/logout/", {"csrf_token": csrf_token(testapp.get("/account/"))})
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME - 1):
        log_in(testapp, "forgetful", "guess guess")
    assert log_in(testapp, "forgetful").status_int == 303


def test_a_hash_with_old_parameters_is_replaced_on_login(testapp, make_user):
    user = make_user("oldhash")
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    user.password_hash = weak.hash(PASSWORD)
    assert services.password_hasher.check_needs_rehash(user.password_hash)
    assert log_in(testapp, "oldhash").status_int == 303
    assert user.password_hash != weak.hash(PASSWORD)
    assert not services.password_hasher.check_needs_rehash(user.password_hash)
    assert services.password_hasher.verify(user.password_hash, PASSWORD)


def test_session_cookie_is_httponly_and_samesite_lax(testapp):
    response = testapp.get("/account/login/")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    # Development and tests run over plain http; production.ini sets session.secure.
    assert "secure" not in attributes


def test_session_cookie_is_secure_when_configured(dbengine, app_settings):
    import webtest

    from pypi_web import main

    app = main({}, dbengine=dbengine, **{**app_settings, "session.secure": "true"})
    cookie = webtest.TestApp(app).get("/account/login/").headers["Set-Cookie"]
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_login_starts_a_fresh_session(testapp, second_browser, make_user):
    make_user("fixated")
    login_page = testapp.get("/account/login/")
    token_before = csrf_token(login_page)
    cookie_before = testapp.cookies["session"]

    form = form_posting_to(login_page, "/account/login/")
    form["username"], form["password"] = "fixated", PASSWORD
    form.submit()
    assert testapp.cookies["session"] != cookie_before
    token_after = csrf_token(testapp.get("/account/"))
    assert token_after != token_before

    # The pre-login cookie (what a session-fixation attacker would hold) is
    # not logged in, and its CSRF token no longer works for the user.
    second_browser.set_cookie("session", cookie_before)
    assert logged_in_as(second_browser) is None
    response = testapp.post("/account/logout/", {"csrf_token": token_before}, status=400)
    assert "security token" in page_text(response)
    assert logged_in_as(testapp) == "fixated"


def test_a_tampered_session_cookie_is_ignored(testapp, make_user):
    make_user("tampered")
    log_in(testapp, "tampered")
    cookie = testapp.cookies["session"]
    testapp.set_cookie("session", cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB"))
    assert logged_in_as(testapp) is None


def test_logout_needs_a_post_with_the_csrf_token(testapp, make_user):
    make_user("leaver")
    log_in(testapp, "leaver")
    confirm = testapp.get("/account/logout/")
    assert confirm.status_int == 200
    assert logged_in_as(testapp) == "leaver"

    refused = testapp.post("/account/logout/", {}, status=400)
    assert "security token" in page_text(refused)
    assert logged_in_as(testapp) == "leaver"

    form = form_posting_to(confirm, "/account/logout/")
    response = form.submit()
    assert response.status_int == 303
    assert response.location == "http://localhost/"
    home = response.follow()
    assert home.html.select_one(".nav-account") is None
    assert "Log in" in home.html.select_one(".site-nav").get_text()
    assert testapp.get("/account/").status_int == 303


def test_logout_from_the_header_form(testapp, make_user):
    make_user("headerleaver")
    log_in(testapp, "headerleaver")
    page = testapp.get("/about/")
    form = page.forms[[f.action for f in page.forms.values()].index("/account/logout/")]
    form.submit()
    assert logged_in_as(testapp) is None


def test_password_change_keeps_this_session_and_ends_others(
    testapp, second_browser, make_user, dbsession
):
    user = make_user("changer")
    log_in(testapp, "changer")
    log_in(second_browser, "changer")
    assert logged_in_as(second_browser) == "changer"

    form = form_posting_to(testapp.get("/account/"), "/account/password/")
    form["current_password"] = PASSWORD
    form["new_password"] = form["new_password_confirm"] = "a brand new passphrase"
    response = form.submit()
    assert response.status_int == 303
    assert "Your password has been changed." in page_text(response.follow())

    assert logged_in_as(testapp) == "changer"
    assert logged_in_as(second_browser) is None
    assert services.check_password(dbsession, "changer", "a brand new passphrase") is user
    assert services.check_password(dbsession, "changer", PASSWORD) is None


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field", "message"),
    [
        ("wrong password", "a brand new one", "a brand new one", "current_password", "not correct"),
        ("", "a brand new one", "a brand new one", "current_password", "Enter your current"),
        (PASSWORD, "short", "short", "new_password", "at least 8"),
        (PASSWORD, "changer22", "changer22", "new_password", "must not be your username"),
        (PASSWORD, PASSWORD, PASSWORD, "new_password", "same as the current"),
        (PASSWORD, "a brand new one", "another one", "new_password_confirm", "do not match"),
    ],
)
def test_password_change_errors(
    testapp, make_user, dbsession, current, new, confirm, field, message
):
    make_user("changer22")
    log_in(testapp, "changer22")
    form = form_posting_to(testapp.get("/account/"), "/account/password/")
    form["current_password"], form["new_password"], form["new_password_confirm"] = (
        current,
        new,
        confirm,
    )
    response = form.submit(status=400)
    assert message in response.html.find(id=f"{field}-error").get_text(" ", strip=True)
    assert services.check_password(dbsession, "changer22", PASSWORD) is not None
