"""releases: license_expression, license_files, provides_extra, dynamic (Metadata 2.2-2.4)

Four nullable columns on releases for what uploads declare in core metadata
2.2 to 2.4 (PEP 643 Dynamic, PEP 685 Provides-Extra, PEP 639
License-Expression and License-File), which the JSON API serves as pypi.org
does. An expand change: nothing is rewritten, existing rows read NULL (the
API's null, as before), and the release before this one, which names its
columns in every statement, never sees them and keeps working.

SQLite adds the columns in place (ALTER TABLE ADD COLUMN: batch mode does not
copy the table for additions); Postgres adds nullable columns without a table
rewrite.

Downgrade drops them again, and with them what uploads since declared.

Revision ID: 55614669c419
Revises: 7d5fd834938e
Create Date: 2026-12-01 06:40:57.301135

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
revision: str = "55614669c419"
down_revision: str | Sequence[str] | None = "7d5fd834938e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("license_expression", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("license_files", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("provides_extra", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("dynamic", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        for column in ("dynamic", "provides_extra", "license_files", "license_expression"):
            # migration-lint: allow drop_column -- going down removes what this revision added
            batch_op.drop_column(column)
