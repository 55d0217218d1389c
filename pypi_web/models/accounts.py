"""Users, their roles on packages, and API tokens."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base, UTCDateTime

if TYPE_CHECKING:
    from .packaging import Package

OWNER = "Owner"
MAINTAINER = "Maintainer"
# Permissions on a project (Package.__acl__), as Warehouse's roles grant them.
MANAGE = "manage"
UPLOAD = "upload"
ROLE_PERMISSIONS = {OWNER: (MANAGE, UPLOAD), MAINTAINER: (UPLOAD,)}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique case-insensitively: stored as typed, compared on the lower-cased form.
    username: Mapped[str] = mapped_column(String(50))
    username_lower: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    # An Argon2 hash; NULL for an account that cannot log in with a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    is_superuser: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created: Mapped[datetime.datetime] = mapped_column(UTCDateTime, server_default=func.now())
    last_login: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    # Sessions are signed cookies the server cannot revoke one by one: each
    # remembers this number from its login, and raising it (logout, password
    # change, disabling the account) ends every session started before.
    session_generation: Mapped[int] = mapped_column(Integer, server_default="0")

    roles: Mapped[list[Role]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    api_tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class Role(Base):
    """A user's role on a package: Owner or Maintainer."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    package_id: Mapped[int] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), index=True
    )
    role_name: Mapped[str] = mapped_column(String(32))

    user: Mapped[User] = relationship(back_populates="roles")
    package: Mapped[Package] = relationship(back_populates="roles")

    __table_args__ = (
        UniqueConstraint("user_id", "package_id", name="uq_roles_user_id_package_id"),
        CheckConstraint(f"role_name IN ('{OWNER}', '{MAINTAINER}')", name="valid_role_name"),
    )


class ApiToken(Base):
    """An upload token; only a hash of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Set when the token may upload to this one package only.
    package_id: Mapped[int | None] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(String(100))
    # sha256 of the secret: tokens carry 256 bits of randomness, so a slow
    # password hash would add nothing but latency to every upload.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime.datetime] = mapped_column(UTCDateTime, server_default=func.now())
    last_used: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="api_tokens")
    package: Mapped[Package | None] = relationship()


class LoginThrottle(Base):
    """Password checks counted per client address and per account and address.

    ``username`` is "" on an address's own row. Each row counts the checks
    of one fixed window (from ``window_start``); accounts.throttle reserves a
    check with one atomic upsert before the password is verified.
    """

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(50), primary_key=True)
    address: Mapped[str] = mapped_column(String(45), primary_key=True)
    window_start: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer)
