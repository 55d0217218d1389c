"""packages: upstream_mode, tracks, alternate_locations (dependency confusion, PEP 708)

Three columns on packages: upstream_mode (local-only, upstream-only or both:
whether an upstream index's files of the same name are served beside the
project's own; the default keeps every existing project local only, as it
was) and PEP 708's tracks and alternate_locations (nullable JSON lists). An
expand change: Postgres adds a column with a constant default without a
rewrite, SQLite in place; the release before never names them.

Downgrade drops them, and with them the owners' choices.

Revision ID: 10351f5dce28
Revises: e55cbeed591d
Create Date: 2026-12-01 10:24:03.186113

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
revision: str = "10351f5dce28"
down_revision: str | Sequence[str] | None = "e55cbeed591d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "upstream_mode", sa.String(length=16), server_default="local-only", nullable=False
            )
        )
        batch_op.add_column(sa.Column("tracks", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("alternate_locations", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Not batch mode: SQLite drops these in place (3.35+), where rebuilding the
    # table would drop the full-text search triggers on packages.
    # migration-lint: allow drop_column -- the owners' settings, undone with the feature
    op.drop_column("packages", "alternate_locations")
    # migration-lint: allow drop_column -- the owners' settings, undone with the feature
    op.drop_column("packages", "tracks")
    # migration-lint: allow drop_column -- the owners' settings, undone with the feature
    op.drop_column("packages", "upstream_mode")
