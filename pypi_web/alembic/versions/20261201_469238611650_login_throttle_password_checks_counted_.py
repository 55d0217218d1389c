"""login_throttle: password checks counted atomically per address and per account

Login throttling counted failures in the audit log, then checked the
password: 40 wrong passwords sent at once all read the same count and 23 were
checked against a limit of 10, and 10 failures from anywhere locked the owner
out. One row per (account, address) and per address ("" as the account)
counts the password checks of a 15-minute window; a check is reserved with
one atomic upsert (INSERT ... ON CONFLICT DO UPDATE ... WHERE attempts <
limit RETURNING) before the password is verified, so concurrent requests
cannot pass the limit.

An expand change: a new table only. The release before this one still
counts from the audit log (the new release records failures there too).

Downgrade drops the table (counts in flight are forgotten: at worst a
throttled client gets its budget back early).

Revision ID: 469238611650
Revises: 989115140bd6
Create Date: 2026-12-01 10:36:26.237075

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
revision: str = "469238611650"
down_revision: str | Sequence[str] | None = "989115140bd6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("username", "address", name=op.f("pk_login_throttle")),
    )


def downgrade() -> None:
    # migration-lint: allow drop_table -- going down removes what this revision added
    op.drop_table("login_throttle")
