"""Registration: a working account on success, a clear error on each bad field."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from pypi_web.accounts import services

from .helpers import PASSWORD, form_posting_to, register


def field_error(response, field: str) -> str | None:
    element = response.html.find(id=f"{field}-error")
    return element.get_text(" ", strip=True) if element is not None else None


def test_register_creates_the_account_and_logs_in(testapp, dbsession):
    response = register(testapp, "NewUser", email="New.User@Example.org", display_name="New User")
    assert response.status_int == 303
    assert response.location.endswith("/account/")
    page = response.follow()
    assert "Welcome, NewUser!" in page.text
    assert page.html.select_one(".nav-account").get_text(strip=True) == "NewUser"

    user = services.user_by_username(dbsession, "newuser")
    assert user is not None
    assert user.username == "NewUser"
    assert user.display_name == "New User"
    assert user.email == "new.user@example.org"
    assert user.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(user.password_hash, PASSWORD)
    assert user.last_login is not None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"username": ""}, "username", "Choose a username."),
        ({"username": "bad name!"}, "username", "letters, digits"),
        ({"username": "-leading"}, "username", "start and end with a letter or digit"),
        ({"username": "x" * 51}, "username", "1 to 50"),
        ({"email": ""}, "email", "Enter your email address."),
        ({"email": "no-at-sign.example.org"}, "email", "valid email address"),
        ({"email": "two@@example.org"}, "email", "valid email address"),
        ({"email": "nodot@localhost"}, "email", "valid email address"),
        ({"password": "short", "password_confirm": "short"}, "password", "at least 8"),
        ({"password": "a" * 12, "password_confirm": "a" * 12}, "password", "repeated"),
        ({"password": "x" * 1025, "password_confirm": "x" * 1025}, "password", "at most 1024"),
        ({"password_confirm": "something else"}, "password_confirm", "do not match"),
        ({"display_name": "n" * 101}, "display_name", "at most 100"),
        ({"display_name": "tab\there"}, "display_name", "control characters"),
    ],
)
def test_each_bad_field_gets_its_own_message(testapp, dbsession, fields, field, message):
    fields = dict(fields)
    username = fields.pop("username", "valid_name")
    password = fields.pop("password", PASSWORD)
    fields.setdefault("email", "someone@example.org")
    response = register(testapp, username, password, **fields)
    assert response.status_int == 400
    error = field_error(response, field)
    assert error is not None and message.lower() in error.lower(), error
    assert "Please correct the 1 problem below." in response.text
    assert services.user_by_username(dbsession, username or "valid_name") is None


def test_password_equal_to_username_is_refused(testapp):
    response = register(testapp, "Charlotte99", "charlotte99")
    assert response.status_int == 400
    assert field_error(response, "password") == "Your password must not be your username."


def test_taken_username_is_refused_whatever_its_case(testapp, make_user):
    make_user("Taken")
    response = register(testapp, "tAKEN", email="other@example.org")
    assert response.status_int == 400
    assert "already taken" in field_error(response, "username")


def test_taken_email_is_refused(testapp, make_user):
    make_user("first", email="shared@example.org")
    response = register(testapp, "second", email="Shared@Example.org")
    assert response.status_int == 400
    assert "already used" in field_error(response, "email")


def test_the_form_keeps_what_was_typed_except_passwords(testapp):
    response = register(testapp, "kept", display_name="Kept Name", password_confirm="nope nope")
    form = form_posting_to(response, "/account/register/")
    assert form["username"].value == "kept"
    assert form["display_name"].value == "Kept Name"
    assert form["email"].value == "kept@example.org"
    assert form["password"].value == ""


def test_a_logged_in_user_is_sent_to_the_account_page(testapp, make_user):
    register(testapp, "already")
    response = testapp.get("/account/register/")
    assert response.status_int == 303
    assert response.location.endswith("/account/")
