"""An audit log of security-relevant events: logins, failed logins, uploads, tokens."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created: Mapped[datetime.datetime] = mapped_column(UTCDateTime, server_default=func.now())
    # What happened: "account:login", "account:login_failed", "package:upload", ...
    tag: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The username as typed, kept for failed logins where there may be no user.
    username: Mapped[str | None] = mapped_column(String(50))
    package_name: Mapped[str | None] = mapped_column(String(200))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    additional: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # Throttling counts recent failures per account and per address; the
    # account page and project history list a user's or package's events.
    __table_args__ = (
        Index("ix_audit_events_tag_created", "tag", "created"),
        Index("ix_audit_events_user_id_created", "user_id", "created"),
        Index("ix_audit_events_username_created", "username", "created"),
        Index("ix_audit_events_ip_address_created", "ip_address", "created"),
        Index("ix_audit_events_package_name_created", "package_name", "created"),
    )
