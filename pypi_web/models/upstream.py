"""Projects and files of upstream indexes, cached here (pypi_web.upstream)."""

from __future__ import annotations

import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base, UTCDateTime


class UpstreamProject(Base):
    """An upstream's PEP 691 page for one project, as last fetched."""

    __tablename__ = "upstream_projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One cached page per name: the first upstream (in the settings' order) that has it.
    normalized_name: Mapped[str] = mapped_column(String(200), unique=True)
    upstream_url: Mapped[str] = mapped_column(Text)
    # The page's own URL (file URLs on it may be relative to it).
    page_url: Mapped[str] = mapped_column(Text)
    # The upstream's JSON page as it sent it.
    page: Mapped[dict] = mapped_column(JSON)
    etag: Mapped[str | None] = mapped_column(Text)
    # The upstream's X-PyPI-Last-Serial, when it sends one.
    serial: Mapped[int | None] = mapped_column(Integer)
    # When the upstream last confirmed the page (200 or 304): the cache's age.
    fetched_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, server_default=func.now())
    # The last failed revalidation since then (served stale meanwhile), if any.
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)

    files: Mapped[list[UpstreamFile]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<UpstreamProject {self.normalized_name}>"


class UpstreamFile(Base):
    """A file of an upstream project, fetched, checked against its sha256 and stored here."""

    __tablename__ = "upstream_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("upstream_projects.id", ondelete="CASCADE"), index=True
    )
    # The distribution's filename, or that plus ".metadata" for its PEP 658 metadata.
    filename: Mapped[str] = mapped_column(String(300), unique=True)
    sha256_digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    # Relative to files.storage_dir, as ReleaseFile.path.
    path: Mapped[str] = mapped_column(String(600))
    fetched_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, server_default=func.now())

    project: Mapped[UpstreamProject] = relationship(back_populates="files")

    def __repr__(self) -> str:
        return f"<UpstreamFile {self.filename}>"
