"""Users, passwords and API tokens: the part the site and the upload API share."""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from pypi_web.models import ApiToken, Package, User, utcnow

# Argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile).
password_hasher = PasswordHasher()

TOKEN_PREFIX = "pypi-"
TOKEN_USERNAME = "__token__"
# How fresh a token's "last used" is kept (the account page shows its date).
TOKEN_USE_RESOLUTION = datetime.timedelta(minutes=1)
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,48}[A-Za-z0-9])?$")
# Verified against when the user is unknown, so both cases take the same time.
_DUMMY_HASH = password_hasher.hash("pypi_web timing equaliser")


class AccountError(ValueError):
    """A user-facing reason an account operation was refused."""


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def user_by_username(dbsession: Session, username: str) -> User | None:
    return dbsession.scalars(
        select(User).where(User.username_lower == username.lower())
    ).one_or_none()


def create_user(
    dbsession: Session,
    username: str,
    password: str | None,
    *,
    email: str | None = None,
    display_name: str | None = None,
    is_superuser: bool = False,
) -> User:
    if not USERNAME_PATTERN.match(username or ""):
        raise AccountError(
            "Usernames are 1 to 50 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit."
        )
    if user_by_username(dbsession, username) is not None:
        raise AccountError(f"The username {username!r} is already taken.")
    if email is not None:
        email = email.strip().lower()
        if dbsession.scalars(select(User.id).where(User.email == email)).first() is not None:
            raise AccountError("That email address is already used by another account.")
    user = User(
        username=username,
        username_lower=username.lower(),
        email=email,
        display_name=display_name,
        password_hash=hash_password(password) if password else None,
        is_superuser=is_superuser,
    )
    dbsession.add(user)
    dbsession.flush()
    return user


def check_password(dbsession: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None.

    An unknown user costs one Argon2 verification too, so the answer time does
    not tell whether the account exists. A hash made with older parameters is
    replaced on a successful login.
    """
    user = user_by_username(dbsession, username)
    stored = user.password_hash if user is not None and user.is_active else None
    try:
        password_hasher.verify(stored or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if stored is None:
        return None
    if password_hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
    return user


def end_sessions(dbsession: Session, user: User) -> None:
    """End every session ``user`` has: they all carry an older generation now.

    One atomic UPDATE, so two at once (logging out in two tabs) both count.
    """
    generation = dbsession.scalar(
        update(User)
        .where(User.id == user.id)
        .values(session_generation=User.session_generation + 1)
        .returning(User.session_generation),
        execution_options={"synchronize_session": False},
    )
    set_committed_value(user, "session_generation", generation)


def disable_user(dbsession: Session, user: User) -> None:
    """Disable the account: no login, no upload, and every session it had ends."""
    user.is_active = False
    end_sessions(dbsession, user)


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)


def _token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_api_token(
    dbsession: Session, user: User, description: str, package: Package | None = None
) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is shown once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        description=description[:100],
        package=package,
        token_hash=_token_digest(secret),
    )
    dbsession.add(token)
    dbsession.flush()
    return token, secret


def token_for_secret(dbsession: Session, secret: str) -> ApiToken | None:
    """The token behind ``secret`` if it exists and its user is active."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = dbsession.scalars(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(secret))
    ).one_or_none()
    if token is None or not token.user.is_active:
        return None
    return token


def record_token_use(dbsession: Session, token: ApiToken) -> None:
    """Note that ``token`` was used, at most once per ``TOKEN_USE_RESOLUTION``.

    Called as an upload's last write: the update locks the token's row until the
    commit, and a CI job uploading its wheels at once with one token would
    otherwise queue every upload behind the others' whole requests.
    """
    now = utcnow()
    dbsession.execute(
        update(ApiToken)
        .where(ApiToken.id == token.id)
        .where((ApiToken.last_used.is_(None)) | (ApiToken.last_used < now - TOKEN_USE_RESOLUTION))
        .values(last_used=now)
        .execution_options(synchronize_session=False)
    )


def revoke_api_token(dbsession: Session, user: User, token_id: int) -> bool:
    token = dbsession.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        return False
    dbsession.delete(token)
    dbsession.flush()
    return True
