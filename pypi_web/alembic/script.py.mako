"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
<%
    from pypi_web.migrations.lint import phase_for_template

    phase = phase_for_template(upgrades or "")
%>\
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
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}
phase = ${repr(phase)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
