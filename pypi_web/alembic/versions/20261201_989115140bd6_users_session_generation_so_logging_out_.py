"""users: session_generation, so logging out ends every earlier session

Sessions are signed cookies: the server cannot revoke one, so a cookie copied
before its owner logged out still opened the account. Each session now keeps
the user's session_generation from its login; logging out, changing the
password and disabling the account raise it, which ends every session
started before (as Warehouse's password_date does for password changes).

An expand change: a NOT NULL integer with server default 0, added in place on
SQLite (ALTER TABLE ADD COLUMN) and without a rewrite on Postgres (a constant
default). The release before this one never names the column; its INSERTs
get the default. Its sessions carry no generation and end at the upgrade:
everyone logs in once more.

Downgrade drops the column.

Revision ID: 989115140bd6
Revises: d2aa0b9946c6
Create Date: 2026-12-01 10:28:07.824761

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
revision: str = "989115140bd6"
down_revision: str | Sequence[str] | None = "d2aa0b9946c6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        # migration-lint: allow drop_column -- going down removes what this revision added
        batch_op.drop_column("session_generation")
