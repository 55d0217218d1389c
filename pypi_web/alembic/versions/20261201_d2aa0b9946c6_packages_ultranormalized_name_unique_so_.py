"""packages: ultranormalized_name, unique, so no new project resembles an existing one

A nullable column holding PyPI's "ultranormalized" name (".", "_", "-"
dropped, l/L/i/I -> 1, o/O -> 0, lower case) and a unique index on it: the
database itself refuses a second project that looks like the first, so two
uploads creating "urllib3" and "urlIib3" at once cannot both win.

Existing rows are backfilled here. Real data may already hold such pairs
(PyPI accepted them before it checked): the oldest project of each group
(by created, then id) keeps the value and the others keep NULL, which a
unique index allows any number of times. New names still meet the value the
oldest one holds.

An expand change: the release before this one never names the column, and
the projects it creates during the roll-out keep NULL (unchecked until the
next backfill); nothing it does is refused. SQLite adds the column in place
(ALTER TABLE ADD COLUMN), Postgres without a rewrite; the index is built
once the values are in.

Downgrade drops the index and the column.

Revision ID: d2aa0b9946c6
Revises: 75eaea371f22
Create Date: 2026-12-01 10:04:16.464756

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Review before committing (docs/evolving-the-schema.md):
# * Deploys migrate while the previous release still serves: keep this revision
#   compatible with it (new columns nullable or with a server_default; renames as
#   add, copy, drop; drops only once no released code reads the column).
# * Postgres runs each revision with lock_timeout/statement_timeout from the app's
#   migrations.* settings; raise one for a revision with
#   op.execute("SET LOCAL statement_timeout = '10min'").
# * Deliberate dangerous operations need, on the line before:
#   # migration-lint: allow <rule> -- <why>

# revision identifiers, used by Alembic.
revision: str = "d2aa0b9946c6"
down_revision: str | Sequence[str] | None = "75eaea371f22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

# The rule as of this revision, in SQL both backends run (and --sql can print):
# pypi_web.packaging.names.ultranormalize may change later.
ULTRANORMALIZED = (
    "replace(replace(replace(lower(replace(replace(replace(name, '.', ''), '_', ''), '-', '')),"
    " 'l', '1'), 'i', '1'), 'o', '0')"
)


def backfill() -> None:
    op.execute(f"UPDATE packages SET ultranormalized_name = {ULTRANORMALIZED}")
    # Look-alikes already stored: the oldest keeps the value, the others NULL.
    # (Postgres plans the EXISTS as a hash semi-join, SQLite with an automatic index.)
    op.execute(
        "UPDATE packages SET ultranormalized_name = NULL WHERE EXISTS ("
        "SELECT 1 FROM packages AS older"
        " WHERE older.ultranormalized_name = packages.ultranormalized_name"
        " AND (older.created < packages.created"
        " OR (older.created = packages.created AND older.id < packages.id)))"
    )


def upgrade() -> None:
    op.add_column("packages", sa.Column("ultranormalized_name", sa.String(length=200)))
    backfill()
    # One short column (pypi.org's 600k packages build in seconds), and the
    # backfill must commit with it: CONCURRENTLY cannot run in a transaction.
    # migration-lint: allow create_index -- small table, built inside the revision
    op.create_index(
        "ix_packages_ultranormalized_name", "packages", ["ultranormalized_name"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_packages_ultranormalized_name", table_name="packages")
    # migration-lint: allow drop_column -- going down removes what this revision added
    op.drop_column("packages", "ultranormalized_name")
