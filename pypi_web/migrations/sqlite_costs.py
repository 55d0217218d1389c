"""What each statement of a migration costs on a live SQLite database.

SQLite has one lock for the whole database: while a revision's transaction
runs (env.py begins it IMMEDIATE), every write of the site waits for it, so
what matters is how long each statement takes, which is how many rows it
reads or copies. Batch mode rebuilds a table in four statements (a copy
named ``_alembic_tmp_<table>``, every row copied, the old table dropped, the
copy renamed); each is named here with the rows it moves.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from .locks import Finding

TEMP_PREFIX = "_alembic_tmp_"
_NAME = r'"?([\w.]+)"?'
PATTERNS = [
    ("create_copy", re.compile(rf"^CREATE TABLE {TEMP_PREFIX}{_NAME}", re.I)),
    ("create_table", re.compile(rf"^CREATE (?:VIRTUAL )?TABLE (?:IF NOT EXISTS )?{_NAME}", re.I)),
    ("copy_rows", re.compile(rf"^INSERT INTO {TEMP_PREFIX}{_NAME}.*\bFROM {_NAME}", re.I | re.S)),
    ("rename_copy", re.compile(rf"^ALTER TABLE {TEMP_PREFIX}{_NAME} RENAME TO {_NAME}", re.I)),
    ("add_column", re.compile(rf"^ALTER TABLE {_NAME} ADD COLUMN", re.I)),
    ("drop_table", re.compile(rf"^DROP TABLE {_NAME}", re.I)),
    (
        "create_index",
        re.compile(rf"^CREATE (?:UNIQUE )?INDEX (?:IF NOT EXISTS )?\S+ ON {_NAME}", re.I),
    ),
    ("update", re.compile(rf"^UPDATE {_NAME}(.*)", re.I | re.S)),
    ("delete", re.compile(rf"^DELETE FROM {_NAME}(.*)", re.I | re.S)),
]


class SqliteCosts:
    """Rows and journal mode of the live database, and each statement's cost."""

    def __init__(self, connection: sa.Connection):
        self.connection = connection
        self.counts: dict[str, int | None] = {}
        self.journal_mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        self.rebuilding: set[str] = set()

    def rows(self, table: str) -> str:
        if table not in self.counts:
            try:
                count = self.connection.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar()
            except sa.exc.OperationalError:  # made by an earlier pending revision
                count = None
            self.counts[table] = count
        count = self.counts[table]
        if count is None:
            return f"{table} (new)"
        return f"{table} ({count:,} row{'' if count == 1 else 's'})"

    def analyse(self, sql: str) -> list[Finding]:
        if sql.startswith("--") or re.match(r"^(UPDATE|INSERT INTO|DELETE FROM) alembic_", sql):
            return []  # comments, and Alembic's own bookkeeping
        finding = Finding()
        for kind, pattern in PATTERNS:
            match = pattern.match(sql.strip())
            if match:
                effect = getattr(self, f"_{kind}")(*match.groups())
                if effect:
                    finding.effects.append(effect)
                break
        return [finding]

    def _create_copy(self, table: str) -> str:
        self.rebuilding.add(table)
        return f"batch mode rebuilds {self.rows(table)}: first an empty copy with the new shape"

    def _create_table(self, table: str) -> str:
        return f"a new table, {table}"

    def _copy_rows(self, copy: str, table: str) -> str:
        return f"copies every row of {self.rows(table)} into the new shape"

    def _rename_copy(self, copy: str, table: str) -> str:
        self.rebuilding.discard(table)
        return f"the copy becomes {table}"

    def _add_column(self, table: str) -> str:
        return "a schema change only: no row is copied"

    def _drop_table(self, table: str) -> str:
        if table in self.rebuilding:
            return f"drops the old {table} (its rows are in the copy)"
        return f"drops {self.rows(table)}, rows and all"

    def _create_index(self, table: str) -> str:
        return f"builds the index over {self.rows(table)}, reading every row"

    def _changed(self, verb: str, table: str, rest: str) -> str:
        if re.search(r"\bWHERE\b", rest, re.I):
            return f"{verb} the rows of {self.rows(table)} that match"
        return f"{verb} every row of {self.rows(table)}"

    def _update(self, table: str, rest: str) -> str:
        return self._changed("updates", table, rest)

    def _delete(self, table: str, rest: str) -> str:
        return self._changed("deletes", table, rest)

    def locking(self) -> str:
        """What the site meets while a revision runs."""
        readers = (
            "reads go on (journal_mode=wal)"
            if self.journal_mode == "wal"
            else f"reads wait while it commits (journal_mode={self.journal_mode}), and from "
            "when it spills changed pages to the file, as a big rebuild does"
        )
        return f"the database's write lock, until it commits: the site's writes wait; {readers}"
