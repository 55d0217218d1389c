"""packages.last_updated: added, backfilled, then NOT NULL

"Recently updated" listings need to know when a package last changed.
Autogenerate proposed one add_column NOT NULL with a CURRENT_TIMESTAMP
default, which would have stamped every existing package with the time of
the migration. Reviewed into three steps:

1. add the column as nullable (cheap on both backends, no default to evaluate);
2. backfill it in one set-based UPDATE: the newest upload time among the
   package's files, else its newest release's creation time (a release
   without files), else the package's own creation time;
3. make it NOT NULL with a now() server default, so code that does not set
   it (an older copy of the site still serving during a deploy) can insert,
   and add the index the listings sort by.

Downgrade drops the column: its values are derived from release_files,
releases and packages, and the upgrade recomputes them.

Revision ID: 756594532db6
Revises: 49f8a6a1ce67
Create Date: 2026-11-23 21:56:01.605719

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "756594532db6"
down_revision: str | Sequence[str] | None = "49f8a6a1ce67"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

# Correlated subqueries rather than UPDATE ... FROM: SQLite before 3.33 has
# no UPDATE ... FROM, and MAX() of SQLite's ISO-8601 text sorts correctly.
BACKFILL = """
UPDATE packages SET last_updated = COALESCE(
    (SELECT MAX(release_files.upload_time)
       FROM release_files JOIN releases ON releases.id = release_files.release_id
      WHERE releases.package_id = packages.id),
    (SELECT MAX(releases.created) FROM releases WHERE releases.package_id = packages.id),
    packages.created
)
WHERE last_updated IS NULL
"""


def upgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_updated", sa.DateTime(timezone=True), nullable=True))

    op.execute(BACKFILL)

    # SQLite rebuilds the table here (batch mode); Postgres checks every row
    # under its table lock, which the migration's lock_timeout bounds.
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.alter_column(
            "last_updated",
            existing_type=sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        )
        # One row per project, so a plain build is quick; CONCURRENTLY would have to
        # commit mid-revision and give up the revision's atomicity.
        # migration-lint: allow create_index -- small table, built inside the revision
        batch_op.create_index("ix_packages_last_updated", ["last_updated"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_index("ix_packages_last_updated")
        # migration-lint: allow drop_column -- derived data; upgrade() recomputes it from the files
        batch_op.drop_column("last_updated")
