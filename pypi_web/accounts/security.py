"""Who is logged in: the session cookie, the security policy and ``request.user``.

The session is a signed (not encrypted) cookie, so it holds nothing secret:
the user's id, the user's session generation at login, a fingerprint of
their password hash and the CSRF token. A signed cookie cannot be revoked on
the server, so logging out, changing the password and disabling the account
raise the user's ``session_generation`` (services.end_sessions), which ends every
session started before, a copied cookie included. The fingerprint also ends
them when a password is changed by a writer that does not know the generation.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets

from pyramid.authorization import ACLHelper, Allow, Authenticated, Everyone
from pyramid.exceptions import ConfigurationError
from pyramid.session import SignedCookieSessionFactory
from pyramid.settings import asbool

from pypi_web.models import User

from . import services

log = logging.getLogger(__name__)

SESSION_USER_ID = "auth.user_id"
SESSION_PASSWORD_FINGERPRINT = "auth.password_fingerprint"
SESSION_GENERATION = "auth.session_generation"
SESSION_COOKIE_NAME = "session"
# development.ini's secret: known to everyone who has the source, so never
# acceptable where the site is public.
DEVELOPMENT_SECRET = "pypi-web-development-only-session-secret-not-for-production"
KNOWN_WEAK_SECRETS = {DEVELOPMENT_SECRET, "changeme", "secret", "seekrit", "itsaseekreet"}
MIN_SECRET_LENGTH = 32
SECRET_ENVIRONMENT_VAR = "PYPI_WEB_SECRET"
# How the site knows it is public: this setting (production.ini sets it) or
# the environment variable the schema guard also reads (see migrations.guard).
ENVIRONMENT_SETTING = "pypi_web.environment"
ENVIRONMENT_VAR = "PYPI_WEB_ENV"
PUBLIC_ENVIRONMENTS = ("production", "staging")
# The permission of a logged-in user's own pages and forms (the root's ACL grants it).
ACCOUNT = "account"
# Twelve hours of inactivity end a session (Warehouse's figure).
DEFAULT_SESSION_TIMEOUT = 12 * 60 * 60


def is_public_environment(settings) -> bool:
    configured = str(settings.get(ENVIRONMENT_SETTING, "") or "").strip().lower()
    from_env = os.environ.get(ENVIRONMENT_VAR, "").strip().lower()
    return configured in PUBLIC_ENVIRONMENTS or from_env in PUBLIC_ENVIRONMENTS


def session_secret(settings) -> str:
    """The environment's PYPI_WEB_SECRET, else ``session.secret``; refused if weak in public.

    The secret is read from the environment here rather than through the ini
    file: plaster_pastedeploy (since 0.5) no longer offers environment
    variables to ini files as ``%(ENV_NAME)s``. In development a missing
    secret gets a random one per process (sessions then end when the server
    restarts), with a warning.
    """
    secret = (
        os.environ.get(SECRET_ENVIRONMENT_VAR, "").strip()
        or str(settings.get("session.secret", "") or "").strip()
    )
    if is_public_environment(settings):
        problem = None
        if not secret:
            problem = f"neither {SECRET_ENVIRONMENT_VAR} nor session.secret is set"
        elif "%(" in secret or secret.startswith("${"):
            problem = "the secret is an unexpanded placeholder"
        elif secret in KNOWN_WEAK_SECRETS:
            problem = "the secret is a published default (development.ini's or a sample)"
        elif len(secret) < MIN_SECRET_LENGTH:
            problem = f"the secret is shorter than {MIN_SECRET_LENGTH} characters"
        if problem:
            raise ConfigurationError(
                f"pypi_web refuses to start in production: {problem}. Set the environment "
                f"variable {SECRET_ENVIRONMENT_VAR} to a long random value, for example the "
                "output of python3 -c 'import secrets; print(secrets.token_urlsafe(48))'."
            )
        return secret
    if not secret:
        log.warning(
            "neither %s nor session.secret is set: using a random secret, "
            "sessions end when the server restarts",
            SECRET_ENVIRONMENT_VAR,
        )
        return secrets.token_urlsafe(48)
    return secret


def session_factory_from_settings(settings):
    return SignedCookieSessionFactory(
        session_secret(settings),
        cookie_name=SESSION_COOKIE_NAME,
        salt="pypi_web.session",
        secure=asbool(settings.get("session.secure", False)),
        httponly=True,
        samesite="Lax",
        # A browser-session cookie; the server-side timeout ends idle sessions.
        max_age=None,
        timeout=int(settings.get("session.timeout", DEFAULT_SESSION_TIMEOUT)),
        # Re-sign at most every 10 minutes rather than on every response.
        reissue_time=600,
    )


def password_fingerprint(user: User) -> str:
    """A short digest of the stored hash: changes whenever the password does."""
    return hashlib.sha256((user.password_hash or "").encode("utf-8")).hexdigest()[:16]


def login(request, user: User) -> None:
    """Start a fresh session for ``user`` (session-fixation defence), new CSRF token."""
    request.session.invalidate()
    request.session[SESSION_USER_ID] = user.id
    request.session[SESSION_PASSWORD_FINGERPRINT] = password_fingerprint(user)
    request.session[SESSION_GENERATION] = user.session_generation
    request.session.new_csrf_token()
    # request.user was reified as the previous (anonymous) value.
    request.__dict__["user"] = user


def logout(request) -> None:
    user = request.user
    if user is not None:
        services.end_sessions(request.dbsession, user)
    request.session.invalidate()
    request.__dict__["user"] = None


def remember_password_change(request, user: User) -> None:
    """End the user's other sessions after a password change; this one goes on."""
    services.end_sessions(request.dbsession, user)
    request.session[SESSION_PASSWORD_FINGERPRINT] = password_fingerprint(user)
    request.session[SESSION_GENERATION] = user.session_generation


def get_user(request) -> User | None:
    """The logged-in, active user, or None (``request.user``, reified)."""
    session = request.session
    user_id = session.get(SESSION_USER_ID)
    if not isinstance(user_id, int):
        return None
    user = request.dbsession.get(User, user_id)
    if user is None or not user.is_active:
        return None
    if session.get(SESSION_GENERATION) != user.session_generation:
        # Logged out, password changed or account disabled since this login.
        return None
    fingerprint = session.get(SESSION_PASSWORD_FINGERPRINT)
    if not isinstance(fingerprint, str) or not hmac.compare_digest(
        fingerprint, password_fingerprint(user)
    ):
        # The password changed since this session logged in.
        return None
    return user


class SessionSecurityPolicy:
    """Pyramid 2 security policy: the identity is ``request.user``."""

    def __init__(self):
        self.acl = ACLHelper()

    def identity(self, request) -> User | None:
        return request.user

    def authenticated_userid(self, request) -> str | None:
        user = request.user
        return str(user.id) if user is not None else None

    def principals(self, request) -> list[str]:
        principals = [Everyone]
        user = request.user
        if user is not None:
            principals += [Authenticated, f"user:{user.id}"]
            if user.is_superuser:
                principals.append("group:admins")
        return principals

    def permits(self, request, context, permission):
        return self.acl.permits(context, self.principals(request), permission)

    def remember(self, request, userid, **kw):
        # Logging in goes through login() above, which needs the User.
        return []

    def forget(self, request, **kw):
        logout(request)
        return []


class Root:
    """The context of every route without a factory of its own (projects have theirs)."""

    __acl__ = [(Allow, Authenticated, ACCOUNT)]

    def __init__(self, request):
        self.request = request


def includeme(config):
    settings = config.get_settings()
    config.set_root_factory(Root)
    config.set_session_factory(session_factory_from_settings(settings))
    config.set_security_policy(SessionSecurityPolicy())
    config.add_request_method(get_user, "user", reify=True)
