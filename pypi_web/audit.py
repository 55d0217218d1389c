"""Recording and counting audit events (see models.events.AuditEvent), and
``request.client_address``, the address they record."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pypi_web.models import AuditEvent, User, utcnow

# The ip_address column's width (an IPv6 address with an IPv4 tail).
MAX_ADDRESS_LENGTH = 45


def client_address(request) -> str | None:
    """The client's address: waitress puts a trusted proxy's X-Forwarded-For into
    REMOTE_ADDR (production.ini's trusted_proxy), so this is never the proxy's."""
    address = request.client_addr
    return address[:MAX_ADDRESS_LENGTH] if address else None


def record(
    dbsession: Session,
    tag: str,
    *,
    user: User | None = None,
    username: str | None = None,
    package_name: str | None = None,
    ip_address: str | None = None,
    additional: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        tag=tag,
        user_id=user.id if user is not None else None,
        username=(username or (user.username if user is not None else None) or None),
        package_name=package_name,
        ip_address=ip_address,
        additional=additional,
    )
    if event.username is not None:
        event.username = event.username[:50].lower()
    dbsession.add(event)
    return event


def count_recent(
    dbsession: Session,
    tag: str,
    within: datetime.timedelta,
    *,
    username: str | None = None,
    ip_address: str | None = None,
) -> int:
    """How many ``tag`` events for this username or address happened lately."""
    query = select(func.count(AuditEvent.id)).where(
        AuditEvent.tag == tag, AuditEvent.created >= utcnow() - within
    )
    if username is not None:
        query = query.where(AuditEvent.username == username[:50].lower())
    if ip_address is not None:
        query = query.where(AuditEvent.ip_address == ip_address)
    return dbsession.scalar(query) or 0


def includeme(config):
    config.add_request_method(client_address, "client_address", reify=True)
