"""Changes to projects that uploads and the owners' pages share: journal, order, roles."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from pypi_web.models import JournalEntry, Package, Release, ReleaseFile, User, utcnow
from pypi_web.packaging import versions

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


def renumber_releases(dbsession: Session, package: Package) -> dict[str, int]:
    """Recompute every release's sort_order after one was added; version -> order."""
    rows = dbsession.execute(
        select(Release.id, Release.version).where(Release.package_id == package.id)
    ).all()
    orders = versions.sort_orders(row.version for row in rows)
    dbsession.execute(
        update(Release),
        [{"id": row.id, "sort_order": orders[row.version]} for row in rows],
    )
    return orders


def refresh_last_updated(dbsession: Session, package: Package) -> None:
    newest = dbsession.scalar(
        select(func.max(ReleaseFile.upload_time))
        .join(Release)
        .where(Release.package_id == package.id)
    )
    if newest is not None:
        package.last_updated = newest
