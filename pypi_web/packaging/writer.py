"""The one way projects, releases and files are written: upload, import and generator.

Rows go in as Core inserts (one statement for any number of rows); every new
release renumbers the project's ``sort_order`` (PEP 440 with legacy versions,
pypi_web.packaging.versions). Callers journal the change and refresh
``last_updated`` with pypi_web.packaging.journal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from pypi_web.models import Package, Release, ReleaseFile
from pypi_web.packaging import versions
from pypi_web.packaging.names import normalize


def create_project(dbsession: Session, name: str, **columns: Any) -> Package:
    """A new project named ``name`` (stored normalized too), flushed: it has its id."""
    package = Package(name=name, normalized_name=normalize(name), last_serial=0, **columns)
    dbsession.add(package)
    dbsession.flush()
    return package


def version_columns(version: str) -> dict[str, Any]:
    """What a release's version implies: its canonical form and whether it is a pre-release."""
    return {
        "version": version,
        "canonical_version": versions.canonical_version(version),
        "is_prerelease": versions.is_prerelease(version),
    }


def add_releases(
    dbsession: Session, package: Package, rows: list[dict[str, Any]]
) -> tuple[dict[str, int], dict[str, int]]:
    """Insert releases (each row names its ``version``); (version -> new id, version ->
    sort_order of every release of the project)."""
    rows = [{**row, **version_columns(row["version"]), "package_id": package.id} for row in rows]
    inserted = dbsession.execute(insert(Release).returning(Release.version, Release.id), rows)
    return dict(inserted.all()), renumber_releases(dbsession, package)


def renumber_releases(dbsession: Session, package: Package) -> dict[str, int]:
    """Recompute every release's sort_order after one was added; version -> order.

    Only the rows whose order moved are written: a new newest version (the usual
    upload) moves none but its own, so an upload's write stays one row however
    long the history.
    """
    rows = dbsession.execute(
        select(Release.id, Release.version, Release.sort_order).where(
            Release.package_id == package.id
        )
    ).all()
    orders = versions.sort_orders(row.version for row in rows)
    moved = [
        {"id": row.id, "sort_order": orders[row.version]}
        for row in rows
        if row.sort_order != orders[row.version]
    ]
    if moved:
        dbsession.execute(update(Release), moved)
    return orders


def add_files(dbsession: Session, rows: list[dict[str, Any]]) -> None:
    """Insert release files (each row names its ``release_id``) in one statement."""
    dbsession.execute(insert(ReleaseFile), rows)
