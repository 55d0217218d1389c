"""The revision graph, recorded in the database it was applied to.

When code is rolled back, the database's revision is one the old code has
never seen: from ``alembic_version`` alone it cannot tell "the database is
ahead of me" (serve, the newer migrations stay compatible with the previous
release) from "this database belongs to something else" (refuse). So every
migration run records, in ``alembic_version_lineage``, each revision the
running code knows and its parents. Older code then walks that lineage from
the database's revision down: reaching its own head means the database is
ahead; anything else is unknown.

Like ``alembic_version`` it is Alembic's bookkeeping, not site data: env.py
creates it and keeps it out of autogenerate, and schema comparisons ignore it.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .checksums import CHECKSUM_TABLE

LINEAGE_TABLE = "alembic_version_lineage"
VERSION_TABLE = "alembic_version"
# Tables that are migration bookkeeping rather than part of the app's schema.
BOOKKEEPING_TABLES = frozenset({LINEAGE_TABLE, VERSION_TABLE, CHECKSUM_TABLE})

_metadata = sa.MetaData()
lineage = sa.Table(
    LINEAGE_TABLE,
    _metadata,
    sa.Column("revision", sa.String(32), primary_key=True),
    # Space-separated parent revisions; empty for a root.
    sa.Column("down_revisions", sa.String(255), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)


def parents_of(rev) -> tuple[str, ...]:
    down = rev.down_revision
    if down is None:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def record_revision_map(connection: Connection, revision_map) -> None:
    """Add every revision of ``revision_map`` the table does not hold yet."""
    lineage.create(connection, checkfirst=True)
    known = set(connection.scalars(sa.select(lineage.c.revision)))
    now = datetime.datetime.now(datetime.UTC)
    rows = [
        {
            "revision": rev.revision,
            "down_revisions": " ".join(parents_of(rev)),
            "recorded_at": now,
        }
        for rev in revision_map.iterate_revisions("heads", "base")
        if rev.revision not in known
    ]
    if rows:
        connection.execute(sa.insert(lineage), rows)


def on_version_apply(ctx, step, heads, run_args) -> None:
    """env.py's ``on_version_apply`` hook: runs inside each migration's transaction."""
    if ctx.as_sql:  # offline SQL scripts carry only the schema changes
        return
    record_revision_map(ctx.connection, step.revision_map)


def recorded_parents(connection: Connection) -> dict[str, tuple[str, ...]]:
    """revision -> parents, as recorded by whichever code migrated this database."""
    if not sa.inspect(connection).has_table(LINEAGE_TABLE):
        return {}
    return {
        row.revision: tuple(row.down_revisions.split())
        for row in connection.execute(sa.select(lineage.c.revision, lineage.c.down_revisions))
    }
