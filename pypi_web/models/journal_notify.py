"""Postgres tells listeners, as each write commits, which projects it journalled.

A statement-level trigger on ``journals`` sends one NOTIFY on the channel
``JOURNAL_CHANNEL`` per INSERT (or COPY) statement; Postgres delivers it to
every session that LISTENs once the transaction commits, and never if it
rolls back. Its payload is the display names of the projects the statement
journalled, one per line, or ``*`` when it journalled more than
``NOTIFY_MAX_NAMES`` projects (a bulk load: listeners drop everything) or
their names would not fit a payload (8,000 bytes at most). The page cache
listens (pypi_web.cache.listener) instead of querying a serial on every
request. Identical notifications of one transaction are folded into one by
Postgres.

Declared here, next to the models, so ``create_all`` builds what the
revision ``journals notify listeners on commit`` builds; autogenerate cannot
see triggers or functions, so that revision is written by hand and copies
this DDL. SQLite has no LISTEN: there the cache reads the serial per request.
"""

from __future__ import annotations

from sqlalchemy import DDL, event

from .packaging import JournalEntry

JOURNAL_CHANNEL = "pypi_web_journal"
# More projects than this in one statement: the payload says "everything" (*).
NOTIFY_MAX_NAMES = 100
NOTIFY_ALL = "*"
PG_NOTIFY_FUNCTION = "journals_notify"
PG_NOTIFY_TRIGGER = "journals_notify_after_insert"

PG_CREATE = (
    f"""CREATE OR REPLACE FUNCTION {PG_NOTIFY_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  names text;
BEGIN
  IF (SELECT count(*) FROM (SELECT 1 FROM inserted LIMIT {NOTIFY_MAX_NAMES + 1}) AS first_rows)
     > {NOTIFY_MAX_NAMES} THEN
    names := '{NOTIFY_ALL}';
  ELSE
    SELECT string_agg(DISTINCT package_name, E'\\n') INTO names FROM inserted;
    IF names IS NULL THEN
      RETURN NULL;  -- an INSERT of no rows
    END IF;
    IF octet_length(names) > 7000 THEN
      names := '{NOTIFY_ALL}';
    END IF;
  END IF;
  PERFORM pg_notify('{JOURNAL_CHANNEL}', names);
  RETURN NULL;
END
$$""",
    f"""CREATE OR REPLACE TRIGGER {PG_NOTIFY_TRIGGER}
AFTER INSERT ON journals REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION {PG_NOTIFY_FUNCTION}()""",
)
PG_DROP = (
    f"DROP TRIGGER IF EXISTS {PG_NOTIFY_TRIGGER} ON journals",
    f"DROP FUNCTION IF EXISTS {PG_NOTIFY_FUNCTION}()",
)

for statement in PG_CREATE:
    event.listen(
        JournalEntry.__table__, "after_create", DDL(statement).execute_if(dialect="postgresql")
    )
for statement in PG_DROP:
    event.listen(
        JournalEntry.__table__, "before_drop", DDL(statement).execute_if(dialect="postgresql")
    )
