"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
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
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
