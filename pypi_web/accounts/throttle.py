"""Login throttling, counted from the audit log (pypi_web.audit).

Failed logins are counted per username as typed (whether or not the account
exists, so a refusal does not tell which) and per client address. A
successful login clears the username's count, which proves the password was
known; the address count is never cleared, or one valid account would reset
an attacker's budget for guessing others.
"""

from __future__ import annotations

import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pypi_web import audit
from pypi_web.models import AuditEvent, utcnow

LOGIN = "account:login"
LOGIN_FAILED = "account:login_failed"
WINDOW = datetime.timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 10
MAX_FAILURES_PER_ADDRESS = 30


def _failures_for_username(dbsession: Session, username: str) -> int:
    key = username[:50].lower()
    since = utcnow() - WINDOW
    last_login = dbsession.scalar(
        select(func.max(AuditEvent.created)).where(
            AuditEvent.tag == LOGIN, AuditEvent.username == key, AuditEvent.created >= since
        )
    )
    return dbsession.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.tag == LOGIN_FAILED,
            AuditEvent.username == key,
            AuditEvent.created >= (last_login or since),
        )
    )


def refusal(dbsession: Session, username: str, ip_address: str | None) -> str | None:
    """Why this login attempt is refused without checking the password, or None."""
    minutes = int(WINDOW.total_seconds() // 60)
    if username and _failures_for_username(dbsession, username) >= MAX_FAILURES_PER_USERNAME:
        return (
            "Too many failed login attempts for this account. "
            f"Wait {minutes} minutes, then try again."
        )
    if (
        ip_address
        and audit.count_recent(dbsession, LOGIN_FAILED, WINDOW, ip_address=ip_address)
        >= MAX_FAILURES_PER_ADDRESS
    ):
        return (
            "Too many failed login attempts from your network address. "
            f"Wait {minutes} minutes, then try again."
        )
    return None
