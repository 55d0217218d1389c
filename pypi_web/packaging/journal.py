"""The journal and the serial rules: how a change to a project reaches every cache.

Every change to a project gets a journal entry (PyPI's journals); the entry's
id becomes the project's ``last_serial``, which ETags and the page cache
follow. A page depends either on one project (its serial) or on the whole
index (the newest journal entry).
"""

from __future__ import annotations

import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from pypi_web.models import JournalEntry, Package, Release, ReleaseFile, User, utcnow

# What a page depends on (pypi_web.cache's config.cache_pages(depends_on=...)).
PROJECT = "project"  # the project named by the route's {name}: its id and last_serial
INDEX = "index"  # the whole index: the newest journal entry's id
DEPENDENCIES = (PROJECT, INDEX)

# session.info key: names of the projects journalled in the session's
# transaction (the page cache drops their pages when it commits).
JOURNALLED_NAMES = "pypi_web.journalled_names"


def journal(
    dbsession: Session,
    package: Package,
    action: str,
    *,
    version: str | None = None,
    user: User | None = None,
) -> int:
    """Log a change to ``package`` and move its serial on; returns the new serial.

    Every change gets its own entry (PyPI's journals), so serials, ETags and
    mirrors see each one.
    """
    serial = dbsession.scalar(
        insert(JournalEntry)
        .values(
            package_name=package.name,
            version=version,
            action=action,
            submitted_at=utcnow(),
            submitted_by_id=user.id if user is not None else None,
        )
        .returning(JournalEntry.id)
    )
    package.last_serial = serial
    dbsession.info.setdefault(JOURNALLED_NAMES, set()).add(package.name)
    return serial


def last_updated(
    newest_upload: datetime.datetime | None,
    newest_release: datetime.datetime | None,
    created: datetime.datetime,
) -> datetime.datetime:
    """A project's ``last_updated``, as the migration that added it defines it: its newest
    file upload, else its newest release (one without files), else its creation."""
    return newest_upload or newest_release or created


def refresh_last_updated(dbsession: Session, package: Package) -> None:
    """Set ``package.last_updated`` from what is stored (two indexed aggregates)."""
    newest_upload = (
        select(func.max(ReleaseFile.upload_time))
        .join(Release)
        .where(Release.package_id == package.id)
        .scalar_subquery()
    )
    newest_release = (
        select(func.max(Release.created)).where(Release.package_id == package.id).scalar_subquery()
    )
    row = dbsession.execute(select(newest_upload, newest_release)).one()
    package.last_updated = last_updated(row[0], row[1], package.created)
