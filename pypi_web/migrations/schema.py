"""Comparing live schemas: reflection snapshots, their differences, scratch databases.

Adoption builds each revision's schema in a scratch database of the same
backend and compares reflections of both, so the comparison sees exactly
what the database reports (names of constraints and indexes included) with
no model in between. Column order is ignored: a column added by a migration
sits last, one made by create_all sits where the model declares it.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from ..models.search import SEARCH_SCHEMA_NAMES
from . import alembic_config, migration_engine, script_directory
from .lineage import BOOKKEEPING_TABLES

Snapshot = dict[str, dict]


def _default(value: str | None) -> str | None:
    # SQLite reports "(CURRENT_TIMESTAMP)" after a batch rebuild and
    # "CURRENT_TIMESTAMP" after create_all: the same default.
    if value is None:
        return None
    value = value.strip()
    while value.startswith("(") and value.endswith(")"):
        value = value[1:-1].strip()
    value = value.lower()
    # Postgres keeps now() (func.now(), create_all) and current_timestamp (a
    # revision's text default) as written: one function, the transaction's start.
    return "current_timestamp" if value == "now()" else value


def _sql(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().strip("()").lower()


def snapshot(connection: Connection) -> Snapshot:
    """A comparable description of every app table (bookkeeping tables left out)."""
    inspector = sa.inspect(connection)
    dialect = connection.dialect
    tables: Snapshot = {}
    for table in sorted(inspector.get_table_names()):
        if table in BOOKKEEPING_TABLES or table.startswith(("sqlite_", "_alembic")):
            continue
        # The FTS5 table and its shadow tables have untyped columns; made by
        # the search revision and by create_all alike (pypi_web.models.search).
        if table in SEARCH_SCHEMA_NAMES:
            continue
        columns = {
            c["name"]: {
                "type": c["type"].compile(dialect=dialect),
                "nullable": bool(c["nullable"]),
                "default": _default(c.get("default")),
            }
            for c in inspector.get_columns(table)
        }
        pk = inspector.get_pk_constraint(table)
        foreign_keys = {
            fk["name"] or f"(unnamed) {','.join(fk['constrained_columns'])}": {
                "columns": list(fk["constrained_columns"]),
                "references": f"{fk['referred_table']}({','.join(fk['referred_columns'])})",
                "ondelete": ((fk.get("options") or {}).get("ondelete") or "").upper() or None,
            }
            for fk in inspector.get_foreign_keys(table)
        }
        uniques = {
            u["name"] or f"(unnamed) {','.join(u['column_names'])}": list(u["column_names"])
            for u in inspector.get_unique_constraints(table)
        }
        indexes = {
            i["name"]: {"columns": list(i["column_names"]), "unique": bool(i["unique"])}
            for i in inspector.get_indexes(table)
            # Postgres reports the index behind each UNIQUE constraint too.
            if not i.get("duplicates_constraint")
        }
        checks = {
            c["name"] or f"(unnamed) {_sql(c['sqltext'])}": _sql(c["sqltext"])
            for c in inspector.get_check_constraints(table)
        }
        tables[table] = {
            "columns": columns,
            "primary_key": {"name": pk.get("name"), "columns": list(pk["constrained_columns"])},
            "foreign_keys": foreign_keys,
            "unique_constraints": uniques,
            "indexes": indexes,
            "check_constraints": checks,
        }
    return tables


def _describe_column(spec: dict) -> str:
    text = spec["type"] + ("" if spec["nullable"] else " NOT NULL")
    if spec["default"] is not None:
        text += f" DEFAULT {spec['default']}"
    return text


def diff(live: Snapshot, expected: Snapshot) -> list[str]:
    """Human-readable differences of ``live`` from ``expected``; empty when they match."""
    out: list[str] = []
    for table in sorted(expected.keys() - live.keys()):
        out.append(f"table {table}: missing from the database")
    for table in sorted(live.keys() - expected.keys()):
        out.append(f"table {table}: in the database but not expected")
    for table in sorted(live.keys() & expected.keys()):
        have, want = live[table], expected[table]
        for name in sorted(want["columns"].keys() - have["columns"].keys()):
            out.append(
                f"table {table}: column {name} missing "
                f"(expected {_describe_column(want['columns'][name])})"
            )
        for name in sorted(have["columns"].keys() - want["columns"].keys()):
            out.append(
                f"table {table}: column {name} ({_describe_column(have['columns'][name])}) "
                "is not expected"
            )
        for name in sorted(have["columns"].keys() & want["columns"].keys()):
            h, w = have["columns"][name], want["columns"][name]
            if h != w:
                out.append(
                    f"table {table}: column {name} is {_describe_column(h)}, "
                    f"expected {_describe_column(w)}"
                )
        if have["primary_key"] != want["primary_key"]:
            out.append(
                f"table {table}: primary key is {have['primary_key']}, "
                f"expected {want['primary_key']}"
            )
        for kind, label in (
            ("foreign_keys", "foreign key"),
            ("unique_constraints", "unique constraint"),
            ("indexes", "index"),
            ("check_constraints", "check constraint"),
        ):
            h, w = have[kind], want[kind]
            for name in sorted(w.keys() - h.keys()):
                out.append(f"table {table}: {label} {name} missing (expected {w[name]})")
            for name in sorted(h.keys() - w.keys()):
                out.append(f"table {table}: {label} {name} ({h[name]}) is not expected")
            for name in sorted(h.keys() & w.keys()):
                if h[name] != w[name]:
                    out.append(f"table {table}: {label} {name} is {h[name]}, expected {w[name]}")
    return out


@contextlib.contextmanager
def scratch_database(like_url: str | sa.URL) -> Iterator[str]:
    """An empty database on the same backend (and server) as ``like_url``, dropped afterwards."""
    url = sa.make_url(like_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="pypi-web-scratch-") as directory:
            yield f"sqlite:///{Path(directory) / 'scratch.sqlite'}"
        return
    if backend != "postgresql":
        raise ValueError(f"no scratch databases for the {backend} backend")
    name = f"pypi_web_scratch_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def revision_schemas(
    like_url: str | sa.URL, script_location=None
) -> Iterator[tuple[str, Snapshot]]:
    """(revision, the schema it produces), base to head, built in a scratch database."""
    script = script_directory(script_location)
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    with scratch_database(like_url) as scratch_url:
        engine = migration_engine(scratch_url)
        try:
            with engine.connect() as connection:
                for revision in revisions:
                    cfg = alembic_config(connection, script_location=script_location)
                    # Every revision, the head included when it is a contract one:
                    # a database may sit at any of them (phases.py holds none back here).
                    cfg.attributes["contract"] = True
                    command.upgrade(cfg, revision)
                    connection.commit()
                    yield revision, snapshot(connection)
                    connection.rollback()
        finally:
            engine.dispose()
