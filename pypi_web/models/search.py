"""The full-text search index over packages (name, summary, keywords).

Declared here, next to the models, so ``create_all`` (tests of adoption,
scratch databases) builds exactly what the migration
``packages_full_text_search`` builds:

* SQLite: an FTS5 *external-content* virtual table ``packages_search`` over
  ``packages`` (it stores only the index, the text stays in ``packages``),
  kept in sync by three triggers on ``packages``. ``porter unicode61``
  splits names on ``-``/``.``/``_`` and stems like Postgres' english config.
* Postgres: a GIN index on the expression ``search_document_pg()``; queries
  must use the very same expression for the planner to pick the index.

Alembic's autogenerate cannot see virtual tables, their shadow tables or
triggers, and would compare the expression index badly, so alembic/env.py
leaves every name in ``SEARCH_SCHEMA_NAMES`` out of its comparisons; the
migration is written by hand.

Beware on SQLite: a batch migration that *recreates* ``packages``
(``batch_alter_table`` doing a copy-and-move) drops the triggers with the
old table. Such a revision must create them again (``SQLITE_TRIGGERS``
below, copied into the revision); tests/search checks they exist at head.
"""

from __future__ import annotations

from sqlalchemy import DDL, event, func, literal_column
from sqlalchemy.sql.elements import ColumnElement

from .packaging import Package

SEARCH_TABLE = "packages_search"
SEARCH_INDEX = "ix_packages_search_document"
# FTS5 keeps its index in these ordinary tables (no _content: external content).
FTS5_SHADOW_TABLES = tuple(
    f"{SEARCH_TABLE}_{suffix}" for suffix in ("data", "idx", "docsize", "config", "content")
)
SEARCH_SCHEMA_NAMES = frozenset({SEARCH_TABLE, SEARCH_INDEX, *FTS5_SHADOW_TABLES})


def search_document_pg(packages=Package.__table__) -> ColumnElement:
    """Postgres: the indexed document, the same expression in the index and in queries.

    'english'::regconfig makes to_tsvector immutable (indexable). The
    normalized name with spaces adds its words ("zope.interface" -> zope,
    interface), which the parser would keep as one token. Literals, not bind
    parameters: the planner matches a query to the index by expression.
    """
    space = literal_column("' '")
    empty = literal_column("''")
    c = packages.c
    document = (
        func.coalesce(c.name, empty)
        + space
        + func.replace(c.normalized_name, literal_column("'-'"), space)
        + space
        + func.coalesce(c.summary, empty)
        + space
        + func.coalesce(c.keywords, empty)
    )
    return func.to_tsvector(literal_column("'english'::regconfig"), document)


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

# DDL rather than an Index object: autogenerate would warn about an
# expression index on SQLite (where it does not exist) and compare it badly
# on Postgres; as DDL it is made by create_all and the migration alone. The
# expression is search_document_pg()'s; tests/search checks the planner
# uses the index for the queries (it would not if they differed).
PG_CREATE_INDEX = (
    f"CREATE INDEX {SEARCH_INDEX} ON packages USING gin (to_tsvector('english'::regconfig, "
    "coalesce(name, '') || ' ' || replace(normalized_name, '-', ' ') || ' ' || "
    "coalesce(summary, '') || ' ' || coalesce(keywords, '')))"
)
event.listen(
    Package.__table__, "after_create", DDL(PG_CREATE_INDEX).execute_if(dialect="postgresql")
)

for statement in (SQLITE_CREATE_TABLE, *SQLITE_TRIGGERS):
    event.listen(Package.__table__, "after_create", DDL(statement).execute_if(dialect="sqlite"))
for statement in (
    *(f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGER_NAMES),
    f"DROP TABLE IF EXISTS {SEARCH_TABLE}",
):
    event.listen(Package.__table__, "before_drop", DDL(statement).execute_if(dialect="sqlite"))
