"""packages search documents stored and weighted on Postgres

Postgres only. Search ranked its matches with ts_rank() over the expression
of the GIN index made by b1f1174d23a3 (to_tsvector of name, name words,
summary and keywords): nothing stored it, so Postgres computed to_tsvector
again for every matching row, most of a search's time on a big database
(32 of 43 ms for "sync" on 100,000 packages). Now each package's document is
stored, weighted like SQLite's bm25 weights (name 'A', summary 'B',
keywords 'C'), in a side table, as SQLite's FTS5 table is kept beside
packages:

* packages_search (package_id -> packages.id ON DELETE CASCADE, document
  tsvector), filled from the existing packages by one INSERT ... SELECT;
* a plpgsql row trigger on packages (AFTER INSERT OR UPDATE OF name,
  normalized_name, summary, keywords) that upserts the package's row;
  deletions are the foreign key's cascade;
* the GIN index ix_packages_search_document on packages_search(document),
  replacing the expression index of that name on packages (index names are
  per schema: the new one is built under another name, then renamed).

Creating the trigger (first, so that no write is missed) blocks writes to
packages until the commit: through the backfill and the index build (a
plain CREATE INDEX, not CONCURRENTLY: each revision is one transaction), a
few seconds per 100,000 packages. Reads go on but for the very end:
dropping the old index locks packages against reads too, so it comes last.
Code of the previous release still queries the old expression: it gets the
same results, without an index (slower), until it is replaced.

The DDL matches pypi_web/models/search.py (which create_all uses) but is
copied, not imported: migrations must not depend on app code that may
change later. IF [NOT] EXISTS, CREATE OR REPLACE (for a trigger: Postgres
14 or later) and an upserting backfill throughout: a database made by
create_all (which builds these too) and adopted by `pypi-web-db adopt` may
be stamped at an earlier revision, then upgraded through this one.

SQLite: nothing to do; its FTS5 table (b1f1174d23a3) stores its index
already and weighs the columns in bm25() at query time.

Downgrade builds b1f1174d23a3's expression index again (renamed likewise)
and drops the table, the trigger and the function: derived data, the text
stays in packages.

Revision ID: dc9196d0d27e
Revises: b1f1174d23a3
Create Date: 2026-11-24 01:45:17.792197

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "dc9196d0d27e"
down_revision: str | Sequence[str] | None = "b1f1174d23a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "contract"


def document(row: str) -> str:
    """The weighted search document of ``row`` (``new`` in the trigger)."""
    return f"""
    setweight(to_tsvector('english'::regconfig,
        coalesce({row}.name, '') || ' ' || replace({row}.normalized_name, '-', ' ')), 'A') ||
    setweight(to_tsvector('english'::regconfig, coalesce({row}.summary, '')), 'B') ||
    setweight(to_tsvector('english'::regconfig, coalesce({row}.keywords, '')), 'C')"""


PG_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS packages_search (
    package_id integer PRIMARY KEY REFERENCES packages (id) ON DELETE CASCADE,
    document tsvector NOT NULL
)
"""

PG_CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION packages_search_upsert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND new.name IS NOT DISTINCT FROM old.name
     AND new.normalized_name IS NOT DISTINCT FROM old.normalized_name
     AND new.summary IS NOT DISTINCT FROM old.summary
     AND new.keywords IS NOT DISTINCT FROM old.keywords THEN
    RETURN NULL;  -- the columns were set to the values they had
  END IF;
  INSERT INTO packages_search (package_id, document)
  VALUES (new.id, {document("new")})
  ON CONFLICT (package_id) DO UPDATE SET document = excluded.document;
  RETURN NULL;
END
$$
"""

PG_CREATE_TRIGGER = """
CREATE OR REPLACE TRIGGER packages_search_after_write
AFTER INSERT OR UPDATE OF name, normalized_name, summary, keywords ON packages
FOR EACH ROW EXECUTE FUNCTION packages_search_upsert()
"""

PG_BACKFILL = f"""
INSERT INTO packages_search (package_id, document)
SELECT packages.id, {document("packages")}
FROM packages
ON CONFLICT (package_id) DO UPDATE SET document = excluded.document
"""

# Built under a temporary name, renamed once the old index is gone: see upgrade().
PG_CREATE_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_packages_search_document_new ON packages_search "
    "USING gin (document)"
)

# b1f1174d23a3's index, exactly, but for its temporary name (see downgrade()).
PG_CREATE_EXPRESSION_INDEX = """
CREATE INDEX IF NOT EXISTS ix_packages_search_document_old ON packages
USING gin (to_tsvector('english'::regconfig,
    coalesce(name, '') || ' ' || replace(normalized_name, '-', ' ') || ' ' ||
    coalesce(summary, '') || ' ' || coalesce(keywords, '')))
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_CREATE_TABLE)
        op.execute(PG_CREATE_FUNCTION)
        op.execute(PG_CREATE_TRIGGER)
        op.execute(PG_BACKFILL)
        # The new index takes the old one's name (index names are per schema):
        # built under another, renamed once the old one is dropped, last, as
        # DROP INDEX locks packages against reads too until the commit. (On a
        # database made by create_all it is the new index that is dropped.)
        op.execute(PG_CREATE_INDEX)
        # migration-lint: allow drop_index -- replaced by the GIN index on packages_search
        op.execute("DROP INDEX IF EXISTS ix_packages_search_document")
        op.execute(
            "ALTER INDEX ix_packages_search_document_new RENAME TO ix_packages_search_document"
        )
        # The planner's statistics of the lexemes, now rather than at autovacuum's leisure.
        op.execute("ANALYZE packages_search")
    elif dialect != "sqlite":
        # SQLite has nothing to do: its FTS5 table (b1f1174d23a3) stores its
        # index already and weighs the columns with bm25() as it queries.
        raise NotImplementedError(f"no full-text search for the {dialect} backend")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # Built before the drops, which lock packages against reads until the
        # commit; renamed once the table (with its index) is gone.
        op.execute(PG_CREATE_EXPRESSION_INDEX)
        op.execute("DROP TRIGGER IF EXISTS packages_search_after_write ON packages")
        op.execute("DROP FUNCTION IF EXISTS packages_search_upsert()")
        # migration-lint: allow drop_table -- derived data: the text stays in packages
        op.execute("DROP TABLE IF EXISTS packages_search")
        op.execute(
            "ALTER INDEX ix_packages_search_document_old RENAME TO ix_packages_search_document"
        )
