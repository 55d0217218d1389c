"""Validation of the account forms: every problem is reported against its field."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pypi_web.models import User

from .services import USERNAME_PATTERN, user_by_username

PASSWORD_MIN_LENGTH = 8
# Long enough for any passphrase; short enough that hashing it costs nothing extra.
PASSWORD_MAX_LENGTH = 1024
DISPLAY_NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254
# Deliberately loose: one @, a dot in the domain, no spaces. Only a sent
# message proves an address works; this catches typos such as a missing @.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
TOKEN_DESCRIPTION_MAX_LENGTH = 100


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value)


def _text(params, name: str) -> str:
    value = params.get(name, "")
    return value if isinstance(value, str) else ""


@dataclass
class Form:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def password_problem(password: str, username: str, email: str | None = None) -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"Choose a password of at least {PASSWORD_MIN_LENGTH} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"Passwords are at most {PASSWORD_MAX_LENGTH} characters."
    lowered = password.casefold()
    if username and lowered == username.casefold():
        return "Your password must not be your username."
    if email and lowered == email.casefold():
        return "Your password must not be your email address."
    if len(set(password)) == 1:
        return "A password made of one repeated character is too easy to guess."
    return None


def validate_registration(dbsession: Session, params) -> Form:
    form = Form(
        values={
            "username": _text(params, "username").strip(),
            "display_name": _text(params, "display_name").strip(),
            "email": _text(params, "email").strip(),
        }
    )
    username = form.values["username"]
    display_name = form.values["display_name"]
    email = form.values["email"]
    password = _text(params, "password")
    confirm = _text(params, "password_confirm")

    if not username:
        form.errors["username"] = "Choose a username."
    elif not USERNAME_PATTERN.match(username):
        form.errors["username"] = (
            "Usernames are 1 to 50 letters, digits, '.', '_' or '-', "
            "and start and end with a letter or digit."
        )
    elif user_by_username(dbsession, username) is not None:
        form.errors["username"] = "This username is already taken. Choose another one."

    if len(display_name) > DISPLAY_NAME_MAX_LENGTH:
        form.errors["display_name"] = (
            f"Display names are at most {DISPLAY_NAME_MAX_LENGTH} characters."
        )
    elif _has_control_characters(display_name):
        form.errors["display_name"] = "The display name contains control characters."

    if not email:
        form.errors["email"] = "Enter your email address."
    elif len(email) > EMAIL_MAX_LENGTH or not EMAIL_PATTERN.match(email):
        form.errors["email"] = "Enter a valid email address, such as name@example.org."
    elif dbsession.scalars(select(User.id).where(User.email == email.lower())).first() is not None:
        form.errors["email"] = "This email address is already used by another account."

    problem = password_problem(password, username, email)
    if problem:
        form.errors["password"] = problem
    elif confirm != password:
        form.errors["password_confirm"] = "The two passwords do not match."
    return form


def validate_password_change(params, user: User) -> tuple[Form, str, str]:
    """The form plus the current and the new password (checked by the caller)."""
    form = Form()
    current = _text(params, "current_password")
    new = _text(params, "new_password")
    confirm = _text(params, "new_password_confirm")
    if not current:
        form.errors["current_password"] = "Enter your current password."
    problem = password_problem(new, user.username, user.email)
    if problem:
        form.errors["new_password"] = problem
    elif new == current:
        form.errors["new_password"] = "The new password is the same as the current one."
    elif confirm != new:
        form.errors["new_password_confirm"] = "The two passwords do not match."
    return form, current, new


def validate_token(params, projects: dict[str, object]) -> tuple[Form, object | None]:
    """The token form and the project it is limited to (None: all the user's projects)."""
    form = Form(
        values={
            "description": _text(params, "description").strip(),
            "project": _text(params, "project").strip(),
        }
    )
    description = form.values["description"]
    if not description:
        form.errors["description"] = "Give the token a name, such as the machine it is for."
    elif len(description) > TOKEN_DESCRIPTION_MAX_LENGTH:
        form.errors["description"] = (
            f"Token names are at most {TOKEN_DESCRIPTION_MAX_LENGTH} characters."
        )
    elif _has_control_characters(description):
        form.errors["description"] = "The token name contains control characters."
    project = None
    if form.values["project"]:
        project = projects.get(form.values["project"])
        if project is None:
            form.errors["project"] = "Choose one of your own projects, or all projects."
    return form, project
