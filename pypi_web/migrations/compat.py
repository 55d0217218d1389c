"""Can this code serve that database? The models' schema must be a subset of the live one.

The revision number says which migrations ran, not whether the running code
fits what they left: code rolled back under newer revisions, or a contract
revision applied too early, meets tables and columns it did not write. So
the guard reflects the live database (once at start-up, and again only when
its revision changes) and checks what the code reads and writes:

* every table and column the models map exists, with a type of the same kind
  (a string column no shorter than the model's);
* every NOT NULL column the models do not map has a server default (the
  code's INSERTs do not name it; without a default they would fail).

Extra tables, extra nullable or defaulted columns, extra indexes: the code
ignores them, as it must while the next release's expand revisions are live.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models.search import SEARCH_SCHEMA_NAMES


@dataclass
class Compatibility:
    tables: int = 0
    columns: int = 0
    seconds: float = 0.0
    # What stops the code from serving, one sentence each.
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        checked = (
            f"{self.tables} tables and {self.columns} columns the code maps, and the "
            f"columns it does not fill (reflected in {self.seconds * 1000:.0f} ms)"
        )
        if self.ok:
            return f"checked {checked}: all present and compatible"
        return f"checked {checked}: {len(self.problems)} problem(s)"

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "tables": self.tables,
            "columns": self.columns,
            "reflection_ms": round(self.seconds * 1000, 1),
            "problems": self.problems,
        }


def _kind(type_: sa.types.TypeEngine) -> type:
    if isinstance(type_, sa.types.TypeDecorator):
        type_ = type_.impl_instance
    return type_._type_affinity or type(type_)


def type_problem(mapped: sa.types.TypeEngine, live: sa.types.TypeEngine) -> str | None:
    """Why values the code writes would not fit ``live``; None when they do."""
    if _kind(mapped) is not _kind(live) and not isinstance(live, sa.types.NullType):
        return "a different kind of value"
    mapped_length = getattr(mapped, "length", None)
    live_length = getattr(live, "length", None)
    if live_length is not None and (mapped_length is None or mapped_length > live_length):
        return f"shorter (at most {live_length} characters, the code writes up to {mapped_length})"
    return None


def _column_problems(table: sa.Table, live_columns: list[dict], dialect) -> list[str]:
    live = {column["name"]: column for column in live_columns}
    problems = []
    for column in table.columns:
        found = live.get(column.name)
        if found is None:
            problems.append(f"column {table.name}.{column.name} is missing")
            continue
        why = type_problem(column.type, found["type"])
        if why:
            problems.append(
                f"column {table.name}.{column.name} is {found['type'].compile(dialect)} in the "
                f"database, {why} than the code's {column.type.compile(dialect)}"
            )
    for name, found in live.items():
        unfilled = not found["nullable"] and found.get("default") is None
        if name not in table.columns and unfilled and found.get("autoincrement") is not True:
            problems.append(
                f"column {table.name}.{name} is NOT NULL without a server default, and this "
                "code does not fill it (its inserts would fail)"
            )
    return problems


def check_models(connection: Connection, metadata: sa.MetaData | None = None) -> Compatibility:
    """Reflect the live database once and check the models against it (see module doc)."""
    if metadata is None:
        from ..models import Base

        metadata = Base.metadata
    started = time.perf_counter()
    inspector = sa.inspect(connection)
    tables = [t for t in metadata.sorted_tables if t.name not in SEARCH_SCHEMA_NAMES]
    live_tables = set(inspector.get_table_names())
    present = [t.name for t in tables if t.name in live_tables]
    # One catalog query for every table on Postgres (SQLite reads them one by one).
    live_columns = inspector.get_multi_columns(filter_names=present) if present else {}
    result = Compatibility(tables=len(tables), columns=sum(len(t.columns) for t in tables))
    for table in tables:
        if table.name not in live_tables:
            result.problems.append(f"table {table.name} is missing")
            continue
        columns = live_columns[(None, table.name)]
        result.problems.extend(_column_problems(table, columns, connection.dialect))
    result.seconds = time.perf_counter() - started
    return result
