"""Form helpers shared by the account, security and browser tests."""

from __future__ import annotations

from ..factories import ACCOUNT_PASSWORD as PASSWORD


def form_posting_to(response, action: str):
    """The form on the page whose action is ``action``."""
    for form in response.forms.values():
        if form.action == action:
            return form
    raise AssertionError(f"no form posting to {action} on {response.request.path}")


def csrf_token(response) -> str:
    field = response.html.find("input", attrs={"name": "csrf_token"})
    assert field is not None, "the page carries no CSRF token"
    return field["value"]


def log_in(testapp, username: str, password: str = PASSWORD, **environ):
    """Fill in and send the login form; ``environ`` adds e.g. REMOTE_ADDR."""
    extra = {"extra_environ": environ} if environ else {}
    page = testapp.get("/account/login/", **extra)
    form = form_posting_to(page, "/account/login/")
    form["username"] = username
    form["password"] = password
    return form.submit(expect_errors=True, **extra)


def register(testapp, username: str, password: str = PASSWORD, **fields):
    page = testapp.get("/account/register/")
    form = form_posting_to(page, "/account/register/")
    form["username"] = username
    form["email"] = fields.pop("email", f"{username.lower()}@example.org")
    form["display_name"] = fields.pop("display_name", "")
    form["password"] = password
    form["password_confirm"] = fields.pop("password_confirm", password)
    assert not fields, fields
    return form.submit(expect_errors=True)


def page_text(response) -> str:
    """The page's visible text with whitespace collapsed (templates wrap lines)."""
    return " ".join(response.html.get_text(" ").split())
