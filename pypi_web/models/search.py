"""The full-text search index over packages (name, summary, keywords).

Declared here, next to the models, so ``create_all`` (tests of adoption,
scratch databases) builds exactly what the migrations build (revisions
``packages full-text search`` and ``packages search documents stored``):

* SQLite: an FTS5 *external-content* virtual table ``packages_search`` over
  ``packages`` (it stores only the index, the text stays in ``packages``),
  kept in sync by three triggers on ``packages``. ``porter unicode61``
  splits names on ``-``/``.``/``_`` and stems like Postgres' english config.
* Postgres: an ordinary table ``packages_search`` (``package_id``,
  ``document``) holding each package's weighted tsvector, stored so that
  ranking reads it instead of recomputing to_tsvector for every match; a
  GIN index on ``document``. A row trigger on ``packages`` writes the row
  (an upsert) when a package is inserted or its name, normalized name,
  summary or keywords change; the foreign key's ON DELETE CASCADE removes it.
  Weights follow SQLite's bm25 weights (name 10, summary 3, keywords 3):
  the name and its words are 'A', the summary 'B', the keywords 'C', and
  search ranks with ``ts_rank(PG_RANK_WEIGHTS, document, query)``.

Alembic's autogenerate cannot see virtual tables, their shadow tables,
triggers or functions, so alembic/env.py leaves every name in
``SEARCH_SCHEMA_NAMES`` (the tables and the GIN index) out of its
comparisons; the migrations are written by hand.

Beware on SQLite: a batch migration that *recreates* ``packages``
(``batch_alter_table`` doing a copy-and-move) drops the triggers with the
old table. Such a revision must create them again (``SQLITE_TRIGGERS``
below, copied into the revision); tests/search checks they exist at head.
"""

from __future__ import annotations

from sqlalchemy import DDL, event, literal_column

from .packaging import Package

SEARCH_TABLE = "packages_search"
SEARCH_INDEX = "ix_packages_search_document"
# FTS5 keeps its index in these ordinary tables (no _content: external content).
FTS5_SHADOW_TABLES = tuple(
    f"{SEARCH_TABLE}_{suffix}" for suffix in ("data", "idx", "docsize", "config", "content")
)
# Triggers and functions are not compared by autogenerate nor by
# pypi_web.migrations.schema: only tables and indexes need to be here.
SEARCH_SCHEMA_NAMES = frozenset({SEARCH_TABLE, SEARCH_INDEX, *FTS5_SHADOW_TABLES})

SQLITE_CREATE_TABLE = (
    f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5("
    "name, summary, keywords, content='packages', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')"
)
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER {SEARCH_TABLE}_after_insert AFTER INSERT ON packages BEGIN
  INSERT INTO {SEARCH_TABLE}(rowid, name, summary, keywords)
  VALUES (new.id, new.name, new.summary, new.keywords);
END""",
    # External content: the index must be told the old values to remove them.
    f"""CREATE TRIGGER {SEARCH_TABLE}_after_delete AFTER DELETE ON packages BEGIN
  INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, name, summary, keywords)
  VALUES ('delete', old.id, old.name, old.summary, old.keywords);
END""",
    f"""CREATE TRIGGER {SEARCH_TABLE}_after_update
AFTER UPDATE OF id, name, summary, keywords ON packages BEGIN
  INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, name, summary, keywords)
  VALUES ('delete', old.id, old.name, old.summary, old.keywords);
  INSERT INTO {SEARCH_TABLE}(rowid, name, summary, keywords)
  VALUES (new.id, new.name, new.summary, new.keywords);
END""",
)
SQLITE_TRIGGER_NAMES = tuple(
    f"{SEARCH_TABLE}_after_{what}" for what in ("insert", "delete", "update")
)
# Fills the index from the rows already in packages (after a bulk load too).
SQLITE_REBUILD = f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('rebuild')"

# ---- Postgres -------------------------------------------------------------

PG_TRIGGER_FUNCTION = f"{SEARCH_TABLE}_upsert"
PG_TRIGGER = f"{SEARCH_TABLE}_after_write"


def pg_document(row: str) -> str:
    """The weighted document of ``row`` (``new`` in the trigger, ``packages`` in a backfill).

    'english'::regconfig as everywhere. The normalized name with spaces adds
    its words ("zope.interface" -> zope, interface), which the parser would
    keep as one token.
    """
    return (
        f"setweight(to_tsvector('english'::regconfig, coalesce({row}.name, '') || ' ' || "
        f"replace({row}.normalized_name, '-', ' ')), 'A') || "
        f"setweight(to_tsvector('english'::regconfig, coalesce({row}.summary, '')), 'B') || "
        f"setweight(to_tsvector('english'::regconfig, coalesce({row}.keywords, '')), 'C')"
    )


# ts_rank's weights for D, C, B, A: keywords (C) and summary (B) alike at 0.3
# of the name (A), as SQLite's bm25 weights 10, 3, 3. A literal, not a bind
# parameter: it never changes.
PG_RANK_WEIGHTS = literal_column("'{0.1, 0.3, 0.3, 1.0}'::float4[]")

PG_CREATE = (
    f"""CREATE TABLE {SEARCH_TABLE} (
  package_id integer PRIMARY KEY REFERENCES packages (id) ON DELETE CASCADE,
  document tsvector NOT NULL
)""",
    f"""CREATE FUNCTION {PG_TRIGGER_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND new.name IS NOT DISTINCT FROM old.name
     AND new.normalized_name IS NOT DISTINCT FROM old.normalized_name
     AND new.summary IS NOT DISTINCT FROM old.summary
     AND new.keywords IS NOT DISTINCT FROM old.keywords THEN
    RETURN NULL;  -- the columns were set to the values they had
  END IF;
  INSERT INTO {SEARCH_TABLE} (package_id, document)
  VALUES (new.id, {pg_document("new")})
  ON CONFLICT (package_id) DO UPDATE SET document = excluded.document;
  RETURN NULL;
END
$$""",
    f"""CREATE TRIGGER {PG_TRIGGER}
AFTER INSERT OR UPDATE OF name, normalized_name, summary, keywords ON packages
FOR EACH ROW EXECUTE FUNCTION {PG_TRIGGER_FUNCTION}()""",
    f"CREATE INDEX {SEARCH_INDEX} ON {SEARCH_TABLE} USING gin (document)",
)
# packages_search references packages: it goes first (the trigger and the
# function with it), or DROP TABLE packages would refuse.
PG_DROP = (
    f"DROP TRIGGER IF EXISTS {PG_TRIGGER} ON packages",
    f"DROP FUNCTION IF EXISTS {PG_TRIGGER_FUNCTION}()",
    f"DROP TABLE IF EXISTS {SEARCH_TABLE}",
)

# ---- create_all / drop_all --------------------------------------------------

for statement in PG_CREATE:
    event.listen(Package.__table__, "after_create", DDL(statement).execute_if(dialect="postgresql"))
for statement in PG_DROP:
    event.listen(Package.__table__, "before_drop", DDL(statement).execute_if(dialect="postgresql"))
for statement in (SQLITE_CREATE_TABLE, *SQLITE_TRIGGERS):
    event.listen(Package.__table__, "after_create", DDL(statement).execute_if(dialect="sqlite"))
for statement in (
    *(f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGER_NAMES),
    f"DROP TABLE IF EXISTS {SEARCH_TABLE}",
):
    event.listen(Package.__table__, "before_drop", DDL(statement).execute_if(dialect="sqlite"))
