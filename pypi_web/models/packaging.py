"""Projects, their releases and the files of each release."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from pyramid.authorization import Allow
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pypi_web.packaging.names import ultranormalize

from .accounts import ROLE_PERMISSIONS
from .meta import Base, UTCDateTime

if TYPE_CHECKING:
    from .accounts import Role, User
    from .classifiers import Classifier


def _ultranormalized(context) -> str:
    return ultranormalize(context.get_current_parameters()["name"])


class Package(Base):
    """A project on the index, addressed by its PEP 503 normalized name."""

    __tablename__ = "packages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The name as its authors spell it ("Flask", "zope.interface").
    name: Mapped[str] = mapped_column(String(200))
    # PEP 503: lower case, runs of "-", "_", "." folded to "-"; every lookup uses it.
    normalized_name: Mapped[str] = mapped_column(String(200), unique=True)
    # PyPI's "ultranormalized" name (names.ultranormalize), unique: no new
    # project may look like an existing one, however many requests race.
    # NULL only for a project imported beside an older one it resembles:
    # PyPI accepted such pairs before it checked, and a mirror keeps both.
    ultranormalized_name: Mapped[str | None] = mapped_column(
        String(200), unique=True, index=True, default=_ultranormalized
    )
    summary: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    description_content_type: Mapped[str | None] = mapped_column(String(255))
    author: Mapped[str | None] = mapped_column(Text)
    author_email: Mapped[str | None] = mapped_column(Text)
    maintainer: Mapped[str | None] = mapped_column(Text)
    maintainer_email: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[str | None] = mapped_column(Text)
    homepage_url: Mapped[str | None] = mapped_column(Text)
    # {"Documentation": "https://...", ...} as in core metadata's Project-URL.
    project_urls: Mapped[dict[str, str] | None] = mapped_column(JSON)
    requires_python: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[datetime.datetime] = mapped_column(UTCDateTime, server_default=func.now())
    # Grows with every change to the project (PyPI's last_serial); drives ETags.
    last_serial: Mapped[int] = mapped_column(Integer, server_default="0")
    # The newest upload time among the package's files (else its newest
    # release's creation, else its own); "recently updated" listings sort by it.
    last_updated: Mapped[datetime.datetime] = mapped_column(UTCDateTime, server_default=func.now())
    # Whether an upstream index's files of this name are served beside this
    # project's own (pypi_web.upstream.rules): never, unless its owners say so.
    upstream_mode: Mapped[str] = mapped_column(String(16), server_default="local-only")
    # PEP 708, as the owners declare them: project pages on other indexes this
    # project tracks (the same project), and where else its files may be had.
    tracks: Mapped[list[str] | None] = mapped_column(JSON)
    alternate_locations: Mapped[list[str] | None] = mapped_column(JSON)
    # PEP 792: active, archived or deprecated (owners), quarantined (admins).
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)

    releases: Mapped[list[Release]] = relationship(
        back_populates="package",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="desc(Release.sort_order)",
    )
    roles: Mapped[list[Role]] = relationship(
        back_populates="package", cascade="all, delete-orphan", passive_deletes=True
    )
    classifiers: Mapped[list[Classifier]] = relationship(
        secondary="package_classifiers", back_populates="packages", order_by="Classifier.classifier"
    )

    __table_args__ = (
        Index("ix_packages_created", "created"),
        Index("ix_packages_last_updated", "last_updated"),
    )

    def __acl__(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """Owners manage and upload, maintainers upload (Pyramid's ACL; principals in
        pypi_web.accounts.security); nobody else is granted anything."""
        return [
            (Allow, f"user:{role.user_id}", ROLE_PERMISSIONS[role.role_name]) for role in self.roles
        ]

    def __repr__(self) -> str:
        return f"<Package {self.normalized_name}>"


class Release(Base):
    """One version of a package, kept exactly as published (legacy versions included)."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(100))
    # PEP 440 normalized form ("1.0.0a1"); for a legacy version, the version itself.
    canonical_version: Mapped[str] = mapped_column(String(100))
    is_prerelease: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # Position of this release in its package's history, 0 = oldest; legacy
    # versions sort below every PEP 440 version, as pip orders them.
    sort_order: Mapped[int] = mapped_column(Integer, server_default="0")
    created: Mapped[datetime.datetime] = mapped_column(UTCDateTime, server_default=func.now())
    summary: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    description_content_type: Mapped[str | None] = mapped_column(String(255))
    requires_python: Mapped[str | None] = mapped_column(String(255))
    requires_dist: Mapped[list[str] | None] = mapped_column(JSON)
    # Metadata 2.2-2.4 (PEP 643, PEP 685, PEP 639), as the upload declared them.
    license_expression: Mapped[str | None] = mapped_column(Text)
    license_files: Mapped[list[str] | None] = mapped_column(JSON)
    provides_extra: Mapped[list[str] | None] = mapped_column(JSON)
    dynamic: Mapped[list[str] | None] = mapped_column(JSON)
    yanked: Mapped[bool] = mapped_column(Boolean, server_default=false())
    yanked_reason: Mapped[str | None] = mapped_column(Text)

    package: Mapped[Package] = relationship(back_populates="releases")
    files: Mapped[list[ReleaseFile]] = relationship(
        back_populates="release",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ReleaseFile.filename",
    )

    __table_args__ = (
        UniqueConstraint("package_id", "version", name="uq_releases_package_id_version"),
        Index("ix_releases_package_id_sort_order", "package_id", "sort_order"),
        Index("ix_releases_created", "created"),
    )

    def __repr__(self) -> str:
        return f"<Release {self.version}>"


class ReleaseFile(Base):
    """A distribution file (sdist, wheel, egg, ...) of a release."""

    __tablename__ = "release_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255), unique=True)
    packagetype: Mapped[str] = mapped_column(String(32))
    python_version: Mapped[str | None] = mapped_column(String(64))
    requires_python: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    md5_digest: Mapped[str | None] = mapped_column(String(32))
    sha256_digest: Mapped[str] = mapped_column(String(64), index=True)
    blake2_256_digest: Mapped[str | None] = mapped_column(String(64))
    upload_time: Mapped[datetime.datetime] = mapped_column(UTCDateTime, server_default=func.now())
    comment_text: Mapped[str | None] = mapped_column(Text)
    # Where the bytes live: an imported file keeps its original URL; an
    # uploaded one is stored on disk under a path derived from its hash.
    url: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(String(512))
    # PEP 658: sha256 of the wheel's METADATA, when it was extracted on upload;
    # named as PEP 714 and the JSON API name it ("core-metadata").
    core_metadata_sha256_digest: Mapped[str | None] = mapped_column(String(64))

    release: Mapped[Release] = relationship(back_populates="files")

    __table_args__ = (
        CheckConstraint("url IS NOT NULL OR path IS NOT NULL", name="has_location"),
        Index("ix_release_files_upload_time", "upload_time"),
    )

    def __repr__(self) -> str:
        return f"<ReleaseFile {self.filename}>"


class JournalEntry(Base):
    """An append-only log of changes to projects; its ids are PyPI's serials."""

    __tablename__ = "journals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, server_default=func.now())
    submitted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )

    submitted_by: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_journals_package_name_id", "package_name", "id"),)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "package": self.package_name,
            "version": self.version,
            "action": self.action,
            "submitted_at": self.submitted_at.isoformat(),
        }
