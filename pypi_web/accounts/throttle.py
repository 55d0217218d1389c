"""Login throttling: password checks reserved atomically in the database.

Each password check (login form or upload with a password) first reserves a
slot in two counters of the ``login_throttle`` table, by one atomic upsert
each, so concurrent requests cannot pass a limit:

* the client address's own row: ``MAX_FAILURES_PER_ADDRESS`` checks per
  window, whatever the accounts tried (one address guessing many accounts);
* the (account, address) row: ``MAX_FAILURES_PER_USERNAME`` checks per window.

As Warehouse separates its per-IP and per-user limits, an attacker's
failures never lock the owner out: they count on the attacker's addresses.
Once an account has had ``MAX_FAILURES_PER_USERNAME`` failures from all
addresses together, it is under attack, and each further address gets one
check only (the owner's one correct password still goes through; a
distributed guesser gets one guess per address instead of ten).

A correct password gives its address slot back and clears its (account,
address) row, which proves the password known from there. Failures are
still recorded in the audit log (pypi_web.audit) for the record.
"""

from __future__ import annotations

import datetime

from sqlalchemy import case, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pypi_web.models import LoginThrottle, utcnow
from pypi_web.models.meta import UTCDateTime

LOGIN = "account:login"
LOGIN_FAILED = "account:login_failed"
WINDOW = datetime.timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 10
MAX_FAILURES_PER_ADDRESS = 30
# An account under attack: each further address may check one password.
UNDER_ATTACK_CHECKS_PER_ADDRESS = 1
ANY_ACCOUNT = ""
UNKNOWN_ADDRESS = "unknown"


def _reserve(dbsession: Session, username: str, address: str, limit: int) -> bool:
    """Count one check on the row, unless its window already holds ``limit``; atomic."""
    now = utcnow()
    expired = LoginThrottle.window_start < literal(now - WINDOW, UTCDateTime())
    insert = (postgresql if dbsession.get_bind().dialect.name == "postgresql" else sqlite).insert
    statement = insert(LoginThrottle).values(
        username=username, address=address, window_start=now, attempts=1
    )
    statement = statement.on_conflict_do_update(
        index_elements=[LoginThrottle.username, LoginThrottle.address],
        set_={
            "attempts": case((expired, 1), else_=LoginThrottle.attempts + 1),
            "window_start": case(
                (expired, literal(now, UTCDateTime())), else_=LoginThrottle.window_start
            ),
        },
        where=expired | (LoginThrottle.attempts < limit),
    ).returning(LoginThrottle.attempts)
    return dbsession.execute(statement).first() is not None


def _account_failures(dbsession: Session, username: str) -> int:
    """Checks counted for the account from every address in their current windows."""
    return dbsession.scalar(
        select(func.coalesce(func.sum(LoginThrottle.attempts), 0)).where(
            LoginThrottle.username == username,
            LoginThrottle.window_start >= utcnow() - WINDOW,
        )
    )


def _key(username: str, ip_address: str | None) -> tuple[str, str]:
    return username[:50].lower(), (ip_address or UNKNOWN_ADDRESS)[:45]


def reserve(dbsession: Session, username: str, ip_address: str | None) -> str | None:
    """Reserve one password check; why it is refused (nothing checked), or None."""
    username, address = _key(username, ip_address)
    minutes = int(WINDOW.total_seconds() // 60)
    if not _reserve(dbsession, ANY_ACCOUNT, address, MAX_FAILURES_PER_ADDRESS):
        return (
            "Too many failed login attempts from your network address. "
            f"Wait {minutes} minutes, then try again."
        )
    if not username:
        return None
    limit = MAX_FAILURES_PER_USERNAME
    if _account_failures(dbsession, username) >= MAX_FAILURES_PER_USERNAME:
        limit = UNDER_ATTACK_CHECKS_PER_ADDRESS
    if not _reserve(dbsession, username, address, limit):
        return (
            "Too many failed login attempts for this account from your network address. "
            f"Wait {minutes} minutes, then try again."
        )
    return None


def succeeded(dbsession: Session, username: str, ip_address: str | None) -> None:
    """The password was right: give the address its slot back, clear the account's row."""
    username, address = _key(username, ip_address)
    dbsession.execute(
        delete(LoginThrottle).where(
            LoginThrottle.username == username, LoginThrottle.address == address
        )
    )
    dbsession.execute(
        update(LoginThrottle)
        .where(
            LoginThrottle.username == ANY_ACCOUNT,
            LoginThrottle.address == address,
            LoginThrottle.attempts > 0,
        )
        .values(attempts=LoginThrottle.attempts - 1)
        .execution_options(synchronize_session=False)
    )
