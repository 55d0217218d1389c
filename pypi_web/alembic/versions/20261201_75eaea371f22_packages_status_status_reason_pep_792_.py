"""packages: status, status_reason (PEP 792 project status)

Two columns on packages: status (active, archived, deprecated, quarantined;
every existing project active, as it was) and the reason shown with it. An
expand change: a constant default, no rewrite on Postgres, in place on
SQLite; the release before never names them. Downgrade drops them, and with
them every status set since (a quarantined project would be served again).

Revision ID: 75eaea371f22
Revises: 10351f5dce28
Create Date: 2026-12-01 10:37:02.158578

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Review before committing (README, "Evolving the schema"):
# * phase: "expand" if the release before keeps working on the schema this leaves
#   (new tables, nullable or defaulted columns, indexes, backfills), "contract" if
#   it removes or narrows what that release reads or writes (drops, renames, NOT
#   NULL without a server_default, narrower types, new constraints). Contract
#   revisions wait for the post-deploy step (pypi-web-db contract). `pypi-web-db
#   lint` refuses a phase the operations contradict.
# * Renames and type changes: expand (add, backfill, write both) in one release,
#   contract (drop the old) in a later one.
# * Postgres runs each revision with lock_timeout/statement_timeout from the app's
#   migrations.* settings; raise one for a revision with
#   op.execute("SET LOCAL statement_timeout = '10min'").
# * Deliberate dangerous operations need, on the line before:
#   # migration-lint: allow <rule> -- <why>

# revision identifiers, used by Alembic.
revision: str = "75eaea371f22"
down_revision: str | Sequence[str] | None = "10351f5dce28"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="active", nullable=False)
        )
        batch_op.add_column(sa.Column("status_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    # Not batch mode: SQLite drops these in place (3.35+), where rebuilding the
    # table would drop the full-text search triggers on packages.
    # migration-lint: allow drop_column -- the statuses, undone with the feature
    op.drop_column("packages", "status_reason")
    # migration-lint: allow drop_column -- the statuses, undone with the feature
    op.drop_column("packages", "status")
