"""Ending sessions: a cookie copied before logout (or before the account was disabled) is dead."""

from __future__ import annotations

from pypi_web.accounts import services

from .helpers import form_posting_to, log_in


def opens_account(client) -> bool:
    return client.get("/account/", expect_errors=True).status_int == 200


def copy_session(source, target) -> None:
    target.set_cookie("session", source.cookies["session"])


def test_a_cookie_captured_before_logout_no_longer_opens_the_account(
    testapp, second_browser, make_user
):
    make_user("leaving")
    log_in(testapp, "leaving")
    copy_session(testapp, second_browser)
    assert opens_account(second_browser)

    form_posting_to(testapp.get("/account/logout/"), "/account/logout/").submit()
    assert not opens_account(testapp)
    assert not opens_account(second_browser)
    # Logging in again starts a session that works.
    log_in(testapp, "leaving")
    assert opens_account(testapp)


def test_logging_out_ends_the_users_other_sessions_too(testapp, second_browser, make_user):
    make_user("twotabs")
    log_in(testapp, "twotabs")
    log_in(second_browser, "twotabs")
    form_posting_to(testapp.get("/account/logout/"), "/account/logout/").submit()
    assert not opens_account(second_browser)


def test_disabling_the_account_ends_its_sessions_for_good(
    testapp, second_browser, make_user, dbsession
):
    user = make_user("banned")
    log_in(testapp, "banned")
    copy_session(testapp, second_browser)
    services.disable_user(dbsession, user)
    assert not opens_account(testapp)
    # Enabled again, the account does not revive the sessions it had.
    user.is_active = True
    dbsession.flush()
    assert not opens_account(second_browser)
