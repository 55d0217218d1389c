"""packages full-text search: FTS5 on SQLite, GIN tsvector on Postgres

Search (/search/?q=) matches words of a package's name, summary and
keywords. Written by hand: autogenerate cannot see virtual tables, their
shadow tables or triggers (alembic/env.py leaves the names in
pypi_web.models.search.SEARCH_SCHEMA_NAMES out of its comparisons), and
only Postgres has the GIN index. The DDL matches pypi_web/models/search.py
(which create_all uses) but is copied, not imported: migrations must not
depend on app code that may change later.

* SQLite: an FTS5 external-content table over packages (the index only, the
  text stays in packages), filled from the existing rows by FTS5's
  'rebuild', and kept in sync by AFTER INSERT/DELETE/UPDATE triggers.
* Postgres: a GIN index on to_tsvector('english', name + name words +
  summary + keywords). A plain CREATE INDEX (not CONCURRENTLY: each revision
  is one transaction) blocks writes to packages while it builds: about a
  second per 100,000 packages; reads go on.

IF NOT EXISTS throughout: a database made by create_all (which builds these
too, see models/search.py) and adopted by `pypi-web-db adopt` may be stamped
at an earlier revision of the same table schema, then upgraded through this one.

Downgrade drops them; the data they index stays in packages.

Revision ID: b1f1174d23a3
Revises: fd53010c18f5
Create Date: 2026-11-23 22:52:56.555877

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "b1f1174d23a3"
down_revision: str | Sequence[str] | None = "fd53010c18f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

PG_CREATE_INDEX = """
CREATE INDEX IF NOT EXISTS ix_packages_search_document ON packages
USING gin (to_tsvector('english'::regconfig,
    coalesce(name, '') || ' ' || replace(normalized_name, '-', ' ') || ' ' ||
    coalesce(summary, '') || ' ' || coalesce(keywords, '')))
"""

SQLITE_CREATE = (
    """CREATE VIRTUAL TABLE IF NOT EXISTS packages_search USING fts5(name, summary, keywords,
        content='packages', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS packages_search_after_insert AFTER INSERT ON packages BEGIN
  INSERT INTO packages_search(rowid, name, summary, keywords)
  VALUES (new.id, new.name, new.summary, new.keywords);
END""",
    """CREATE TRIGGER IF NOT EXISTS packages_search_after_delete AFTER DELETE ON packages BEGIN
  INSERT INTO packages_search(packages_search, rowid, name, summary, keywords)
  VALUES ('delete', old.id, old.name, old.summary, old.keywords);
END""",
    """CREATE TRIGGER IF NOT EXISTS packages_search_after_update
AFTER UPDATE OF id, name, summary, keywords ON packages BEGIN
  INSERT INTO packages_search(packages_search, rowid, name, summary, keywords)
  VALUES ('delete', old.id, old.name, old.summary, old.keywords);
  INSERT INTO packages_search(rowid, name, summary, keywords)
  VALUES (new.id, new.name, new.summary, new.keywords);
END""",
    "INSERT INTO packages_search(packages_search) VALUES ('rebuild')",
)

SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS packages_search_after_insert",
    "DROP TRIGGER IF EXISTS packages_search_after_delete",
    "DROP TRIGGER IF EXISTS packages_search_after_update",
    "DROP TABLE IF EXISTS packages_search",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_CREATE_INDEX)
    elif dialect == "sqlite":
        for statement in SQLITE_CREATE:
            op.execute(statement)
    else:
        raise NotImplementedError(f"no full-text search for the {dialect} backend")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # migration-lint: allow drop_index -- the search index is derived data, rebuilt by upgrade
        op.execute("DROP INDEX IF EXISTS ix_packages_search_document")
    elif dialect == "sqlite":
        for statement in SQLITE_DROP:
            op.execute(statement)
