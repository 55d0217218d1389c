"""Register, log in and out, the account page (password, API tokens) and profiles."""

from __future__ import annotations

from pyramid.httpexceptions import (
    HTTPForbidden,
    HTTPMovedPermanently,
    HTTPNotFound,
    HTTPSeeOther,
    HTTPTooManyRequests,
)
from pyramid.view import forbidden_view_config, view_config
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from pypi_web import audit
from pypi_web.models import ApiToken, Package, Role, User, utcnow

from . import forms, security, services, throttle
from .security import ACCOUNT

ACCOUNT_TEMPLATE = "pypi_web:templates/accounts/account.pt"


def safe_next(request, value: str | None) -> str:
    """A local path to return to after logging in; anything else goes to the account page."""
    if (
        isinstance(value, str)
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and len(value) <= 1000
        and value.isprintable()
    ):
        return value
    return request.route_path("account")


def record(request, tag: str, **kwargs) -> None:
    event = audit.record(request.dbsession, tag, ip_address=request.client_address, **kwargs)
    # The database's now() is the transaction's start on Postgres; throttling
    # orders a login against failures, so use the moment of the event.
    event.created = utcnow()


def log_in(request, user) -> None:
    """Start ``user``'s session, recording the login (it also resets their failure count)."""
    record(request, throttle.LOGIN, user=user)
    user.last_login = utcnow()
    security.login(request, user)


def no_store(request) -> None:
    # Pages with account details (or a token secret) must not be cached anywhere.
    request.response.cache_control = "no-store"


@view_config(
    route_name="register",
    renderer="pypi_web:templates/accounts/register.pt",
    request_method=("GET", "HEAD"),
)
def register_form(request):
    if request.user is not None:
        return HTTPSeeOther(request.route_path("account"))
    no_store(request)
    return {"form": forms.Form()}


@view_config(
    route_name="register",
    renderer="pypi_web:templates/accounts/register.pt",
    request_method="POST",
)
def register(request):
    no_store(request)
    form = forms.validate_registration(request.dbsession, request.POST)
    if not form.ok:
        request.response.status = 400
        return {"form": form}
    user = services.create_user(
        request.dbsession,
        form.values["username"],
        request.POST["password"],
        email=form.values["email"],
        display_name=form.values["display_name"] or None,
    )
    record(request, "account:register", user=user)
    log_in(request, user)
    request.session.flash(f"Welcome, {user.username}! Your account is ready.", "success")
    return HTTPSeeOther(request.route_path("account"))


@view_config(
    route_name="login",
    renderer="pypi_web:templates/accounts/login.pt",
    request_method=("GET", "HEAD"),
)
def login_form(request):
    next_url = safe_next(request, request.GET.get("next"))
    if request.user is not None:
        return HTTPSeeOther(next_url)
    no_store(request)
    return {"username": "", "next": next_url, "error": None}


@view_config(
    route_name="login",
    renderer="pypi_web:templates/accounts/login.pt",
    request_method="POST",
)
def login(request):
    no_store(request)
    username = request.POST.get("username", "").strip()
    password = request.POST.get("password", "")
    next_url = safe_next(request, request.POST.get("next"))
    values = {"username": username, "next": next_url}

    if not username or not password:
        request.response.status = 400
        return {**values, "error": "Enter your username and your password."}
    refusal = throttle.reserve(request.dbsession, username, request.client_address)
    if refusal is not None:
        request.response.status = HTTPTooManyRequests.code
        request.response.headers["Retry-After"] = str(int(throttle.WINDOW.total_seconds()))
        return {**values, "error": refusal}

    user = services.check_password(request.dbsession, username, password)
    if user is None:
        record(request, throttle.LOGIN_FAILED, username=username)
        request.response.status = 400
        # One message for an unknown user, a wrong password and a disabled
        # account: the page must not tell which usernames exist.
        return {**values, "error": "The username or password is not correct."}

    throttle.succeeded(request.dbsession, username, request.client_address)
    log_in(request, user)
    return HTTPSeeOther(next_url)


@view_config(
    route_name="logout",
    renderer="pypi_web:templates/accounts/logout.pt",
    request_method=("GET", "HEAD"),
)
def logout_form(request):
    # Logging out changes state, so it is a POST; this page asks to confirm.
    if request.user is None:
        return HTTPSeeOther(request.route_path("home"))
    return {}


@view_config(route_name="logout", request_method="POST")
def logout(request):
    if request.user is not None:
        record(request, "account:logout", user=request.user)
    security.logout(request)
    return HTTPSeeOther(request.route_path("home"))


@forbidden_view_config()
def forbidden(exc, request):
    """A view's ``permission=`` refused: anonymous visitors log in first, others get 403."""
    if exc.result is None:
        # Raised by a view on purpose (the upload API's refusals): its own answer.
        return exc
    if request.user is None:
        return HTTPSeeOther(request.route_path("login", _query={"next": request.path_qs}))
    detail = getattr(request.context, "forbidden_detail", "You may not do this.")
    return HTTPForbidden(detail)


def user_projects(dbsession, user: User) -> list[tuple[Package, str]]:
    """The projects ``user`` owns or maintains, by name, with the role."""
    rows = dbsession.execute(
        select(Package, Role.role_name)
        .join(Role, Role.package_id == Package.id)
        .where(Role.user_id == user.id)
        .order_by(Package.normalized_name)
    ).all()
    return [(package, role) for package, role in rows]


def account_page(request, **extra):
    """Everything the account page shows; forms that failed pass their state in ``extra``."""
    user = request.user
    dbsession = request.dbsession
    tokens = dbsession.scalars(
        select(ApiToken)
        .options(joinedload(ApiToken.package))
        .where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created.desc(), ApiToken.id.desc())
    ).all()
    no_store(request)
    return {
        "user": user,
        "projects": user_projects(dbsession, user),
        "tokens": tokens,
        "messages": request.session.pop_flash("success"),
        "password_form": forms.Form(),
        "token_form": forms.Form(),
        "new_token": None,
        **extra,
    }


@view_config(
    route_name="account",
    renderer=ACCOUNT_TEMPLATE,
    request_method=("GET", "HEAD"),
    permission=ACCOUNT,
)
def account(request):
    return account_page(request)


@view_config(
    route_name="account_password",
    renderer=ACCOUNT_TEMPLATE,
    request_method="POST",
    permission=ACCOUNT,
)
def change_password(request):
    user = request.user
    form, current, new = forms.validate_password_change(request.POST, user)
    if "current_password" not in form.errors and (
        services.check_password(request.dbsession, user.username, current) is None
    ):
        form.errors["current_password"] = "Your current password is not correct."
    if not form.ok:
        request.response.status = 400
        return account_page(request, password_form=form)
    services.set_password(user, new)
    record(request, "account:password_change", user=user)
    # Every other session ends; this one goes on.
    security.remember_password_change(request, user)
    request.session.flash("Your password has been changed.", "success")
    return HTTPSeeOther(request.route_path("account"))


@view_config(
    route_name="account_tokens",
    renderer=ACCOUNT_TEMPLATE,
    request_method="POST",
    permission=ACCOUNT,
)
def create_token(request):
    user = request.user
    projects = {p.normalized_name: p for p, _ in user_projects(request.dbsession, user)}
    form, project = forms.validate_token(request.POST, projects)
    if not form.ok:
        request.response.status = 400
        return account_page(request, token_form=form)
    token, secret = services.create_api_token(
        request.dbsession, user, form.values["description"], package=project
    )
    record(
        request,
        "account:api_token_created",
        user=user,
        package_name=project.name if project is not None else None,
        additional={"token_id": token.id, "description": token.description},
    )
    # Rendered here, not after a redirect: the secret is never stored, not
    # even in the (signed, unencrypted) session cookie.
    return account_page(request, new_token={"token": token, "secret": secret})


@view_config(route_name="account_token_revoke", request_method="POST", permission=ACCOUNT)
def revoke_token(request):
    user = request.user
    try:
        token_id = int(request.matchdict["token_id"])
    except ValueError:
        raise HTTPNotFound("No such API token.") from None
    if not 0 < token_id < 2**31:
        raise HTTPNotFound("No such API token.")
    token = request.dbsession.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise HTTPNotFound("You have no API token with this id.")
    description = token.description
    services.revoke_api_token(request.dbsession, user, token_id)
    record(
        request,
        "account:api_token_revoked",
        user=user,
        additional={"token_id": token_id, "description": description},
    )
    request.session.flash(f"The API token “{description}” has been revoked.", "success")
    return HTTPSeeOther(request.route_path("account"))


@view_config(
    route_name="profile",
    renderer="pypi_web:templates/accounts/profile.pt",
    request_method=("GET", "HEAD"),
)
def profile(request):
    username = request.matchdict["username"]
    user = services.user_by_username(request.dbsession, username) if len(username) <= 50 else None
    if user is None or not user.is_active:
        raise HTTPNotFound(f"There is no user named {username[:60]!r}.")
    if user.username != username:
        return HTTPMovedPermanently(request.route_path("profile", username=user.username))
    return {"profile_user": user, "projects": user_projects(request.dbsession, user)}
