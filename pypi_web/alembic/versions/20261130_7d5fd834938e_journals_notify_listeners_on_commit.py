"""journals notify listeners on commit

Postgres only. A statement-level trigger on journals sends a NOTIFY on the
channel pypi_web_journal for every INSERT (or COPY) into it, delivered when
the transaction commits: the names of the projects journalled, one per line,
or "*" when more than 100 projects were (a bulk load). Each server process's
page cache LISTENs and drops the pages of those projects, instead of asking
Postgres for a serial on every request (pypi_web/page_cache_listener.py).

CREATE TRIGGER takes a SHARE ROW EXCLUSIVE lock on journals for the rest of
the revision's transaction: writes wait a moment, reads do not. Code of the
previous release ignores the notifications (nobody listens): it runs on.

The DDL matches pypi_web/models/journal_notify.py (which create_all uses)
but is copied, not imported: migrations must not depend on app code that may
change later. CREATE OR REPLACE throughout (for a trigger: Postgres 14 or
later), so a database made by create_all and adopted can pass through here.

SQLite: nothing to do (it has no LISTEN; the cache reads serials there).
Downgrade drops the trigger and its function.

Revision ID: 7d5fd834938e
Revises: dc9196d0d27e
Create Date: 2026-11-30 07:27:41.512364

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "7d5fd834938e"
down_revision: str | Sequence[str] | None = "dc9196d0d27e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

PG_CREATE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION journals_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  names text;
BEGIN
  IF (SELECT count(*) FROM (SELECT 1 FROM inserted LIMIT 101) AS first_rows) > 100 THEN
    names := '*';
  ELSE
    SELECT string_agg(DISTINCT package_name, E'\n') INTO names FROM inserted;
    IF names IS NULL THEN
      RETURN NULL;  -- an INSERT of no rows
    END IF;
    IF octet_length(names) > 7000 THEN
      names := '*';
    END IF;
  END IF;
  PERFORM pg_notify('pypi_web_journal', names);
  RETURN NULL;
END
$$
"""

PG_CREATE_TRIGGER = """
CREATE OR REPLACE TRIGGER journals_notify_after_insert
AFTER INSERT ON journals REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION journals_notify()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_CREATE_FUNCTION)
        op.execute(PG_CREATE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journals_notify_after_insert ON journals")
        op.execute("DROP FUNCTION IF EXISTS journals_notify()")
