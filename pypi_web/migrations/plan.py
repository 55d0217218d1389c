"""``pypi-web-db plan CONFIG``: the SQL each pending revision will run, and what it will cost.

For the environment's pending revisions (from the database's own revision),
each revision's SQL as Alembic renders it offline (``alembic upgrade A:B
--sql``) for that database's backend, statement by statement, with what the
statement does to the live database while the site keeps serving:

* Postgres: the lock each statement takes and what the site's queries meet
  while it is held, whether it rewrites the table or scans it, with the
  table's size, and squawk's advice where a safer form exists
  (pypi_web.migrations.locks); and per revision the locks held until it
  commits.
* SQLite: batch mode's table rebuilds spelled out (create a copy, copy every
  row, drop, rename), with the rows each copies; the write lock the whole
  revision holds.

Offline batch mode needs the table it rebuilds (Alembic says "batch mode
requires a live database connection with which to reflect the table"): the
plan gives it the table as reflected from a schema-only copy of the live
database (no rows), which it brings forward revision by revision as it
renders them, so a later revision sees the table as the earlier ones left it.
Nothing is written to the database itself.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.operations.batch import BatchOperationsImpl

from . import alembic_config, script_directory
from .locks import WAITS, Finding, PostgresCatalog, Transaction

TIMEOUT_DEFAULTS = {"migrations.lock_timeout": "4s", "migrations.statement_timeout": "5min"}


class _Units(io.StringIO):
    """Alembic's offline output, one write per statement or comment.

    With ``forward`` (an SQLite connection to the schema-only copy), each
    statement also runs there as it is written, so that a batch further on in
    the same revision reflects the table as the statements before it left it.
    """

    def __init__(self, forward: sqlite3.Connection | None = None):
        super().__init__()
        self.units: list[str] = []
        self.forward = forward

    def write(self, text: str) -> int:
        unit = text.strip()
        if unit:
            self.units.append(unit)
            if self.forward is not None and unit.rstrip(";").upper() not in ("BEGIN", "COMMIT"):
                self.forward.executescript(unit)
        return len(text)


@contextlib.contextmanager
def _reflect_batch_tables(connection: sa.Connection | None) -> Iterator[None]:
    """Offline batch mode, given each table it rebuilds as ``connection`` has it."""
    if connection is None:
        yield
        return
    original = BatchOperationsImpl.flush

    def flush(impl: BatchOperationsImpl) -> None:
        # A table the same revision creates is not in the copy yet; Alembic needs
        # none for it unless the revision also rebuilds it.
        offline = impl.operations.migration_context.as_sql
        if offline and impl.copy_from is None and sa.inspect(connection).has_table(impl.table_name):
            impl.copy_from = sa.Table(
                impl.table_name,
                sa.MetaData(naming_convention=impl.naming_convention or {}),
                *impl.reflect_args,
                schema=impl.schema,
                autoload_with=connection,
                **impl.reflect_kwargs,
            )
        original(impl)

    BatchOperationsImpl.flush = flush
    try:
        yield
    finally:
        BatchOperationsImpl.flush = original


def render(url: str, start: str | None, revision: str, copy_url: str | None = None) -> list[str]:
    """The offline SQL of ``revision`` from ``start`` (None: an empty database).

    ``copy_url``: SQLite's schema-only copy, brought forward as the SQL is
    rendered, from which batch mode reflects the tables it rebuilds.
    """
    forward = None
    if copy_url is not None:
        forward = sqlite3.connect(sa.make_url(copy_url).database, isolation_level=None)
    reflect = sa.create_engine(copy_url, poolclass=sa.pool.NullPool) if copy_url else None
    units = _Units(forward)
    cfg = alembic_config(db_url=url)
    cfg.output_buffer = units
    # Every pending revision, including those a deploy applies after the code
    # (contract revisions: env.py holds them back from a plain upgrade unless told).
    cfg.attributes["contract"] = True
    try:
        with (
            reflect.connect() if reflect else contextlib.nullcontext() as connection,
            _reflect_batch_tables(connection),
        ):
            command.upgrade(cfg, f"{start}:{revision}" if start else revision, sql=True)
    finally:
        if forward is not None:
            forward.close()
            reflect.dispose()
    return units.units


@contextlib.contextmanager
def sqlite_schema_copy(url: str) -> Iterator[str]:
    """A temporary SQLite file with the live database's schema and revision, and no rows."""
    source = sa.make_url(url).database
    with tempfile.TemporaryDirectory(prefix="pypi-web-plan-") as directory:
        target = Path(directory) / "schema.sqlite"
        live = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            shadow = {row[1] for row in live.execute("PRAGMA table_list") if row[2] == "shadow"}
            objects = live.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
            ).fetchall()
            names = {row[1] for row in objects}
            versions = []
            if "alembic_version" in names:  # an empty database has none yet
                versions = live.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            live.close()
        order = {"table": 0, "index": 1, "view": 2, "trigger": 3}
        copy = sqlite3.connect(target)
        try:
            for _, name, sql in sorted(objects, key=lambda o: order.get(o[0], 4)):
                if not name.startswith("sqlite_") and name not in shadow:
                    copy.execute(sql)
            if versions:
                copy.executemany("INSERT INTO alembic_version VALUES (?)", versions)
            copy.commit()
        finally:
            copy.close()
        yield f"sqlite:///{target}"


@dataclass
class RevisionPlan:
    revision: str
    doc: str
    units: list[str]
    findings: list[list[Finding]]  # per unit, one Finding per statement
    held: dict[str, str]  # Postgres: table -> the strongest lock held until COMMIT


def _doc(script, revision: str) -> str:
    doc = (script.get_revision(revision).doc or "").strip().splitlines()
    return doc[0] if doc else ""


def plan_postgres(url: str, pending: list[str], start: str | None, live) -> list[RevisionPlan]:
    script = script_directory()
    catalog = PostgresCatalog(live)
    plans = []
    for revision in pending:
        units = render(url, start, revision)
        transaction = Transaction(catalog)
        findings = [transaction.analyse(unit) for unit in units]
        plans.append(RevisionPlan(revision, _doc(script, revision), units, findings,
                                  transaction.held))  # fmt: skip
        start = revision
    return plans


def plan_sqlite(url: str, pending: list[str], start: str | None, live) -> list[RevisionPlan]:
    from .sqlite_costs import SqliteCosts

    script = script_directory()
    costs = SqliteCosts(live)
    plans = []
    with sqlite_schema_copy(url) as copy_url:
        for revision in pending:
            units = render(url, start, revision, copy_url)
            findings = [costs.analyse(unit) for unit in units]
            plans.append(RevisionPlan(revision, _doc(script, revision), units, findings, {}))
            start = revision
    return plans


def print_plan(plans: list[RevisionPlan], out) -> None:
    for plan in plans:
        print(f"\n== {plan.revision}  {plan.doc}", file=out)
        for unit, findings in zip(plan.units, plan.findings, strict=True):
            print(unit, file=out)
            for finding in findings:
                for table, mode in finding.locks.items():
                    print(f"  -- {mode} on {table}: {WAITS[mode]}", file=out)
                for effect in finding.effects:
                    print(f"  -- {effect}", file=out)
                for advice in finding.advice:
                    print(f"  -- ! {advice}", file=out)
        if plan.held:
            held = "; ".join(f"{mode} on {t} ({WAITS[mode]})" for t, mode in plan.held.items())
            print(f"-- held until this revision commits: {held}", file=out)


def _timeouts(config_uri: str) -> dict[str, str]:
    """The migration timeouts env.py will set (Postgres), from the app settings."""
    settings = {}
    if "://" not in config_uri:
        from pypi_web.config import read_app_settings

        settings = read_app_settings(config_uri)
    return {key: settings.get(key, default) for key, default in TIMEOUT_DEFAULTS.items()}


def _pending_or_refuse(status, target, out) -> list[str] | None:
    """The revisions to plan; None (said why) when there are none."""
    from .commands import CommandFailed
    from .guard import AHEAD, UNKNOWN, UNVERSIONED, UP_TO_DATE

    where = target.described
    if status.state == UNVERSIONED:
        raise CommandFailed(
            f"{where}: tables but no Alembic revision: adopt it first (pypi-web-db adopt)"
        )
    if status.state == UNKNOWN:
        raise CommandFailed(
            f"{where}: at revision {status.database_revision}, which this code does not "
            "know: nothing can be planned"
        )
    if status.state in (UP_TO_DATE, AHEAD):
        state = "up to date" if status.state == UP_TO_DATE else "ahead of this code"
        print(f"{where}: {state} at {status.database_revision}: nothing pending.", file=out)
        return None
    return list(status.pending)  # behind, or empty: from base


def _header(target, start, pending, live, config_uri: str) -> list[str]:
    lines = [
        f"Plan for {target.described}",
        f"at {start or 'base (empty)'}, {len(pending)} revision(s) pending.",
    ]
    if live.dialect.name == "postgresql":
        timeouts = _timeouts(config_uri)
        lines.append(
            "Each revision runs in its own transaction, with lock_timeout "
            f"{timeouts['migrations.lock_timeout']} and statement_timeout "
            f"{timeouts['migrations.statement_timeout']} (a lock not granted in time fails "
            "the revision, which rolls back: retry the deploy)."
        )
    else:
        from .sqlite_costs import SqliteCosts

        lines.append(
            f"Each revision runs in its own transaction, holding {SqliteCosts(live).locking()}."
        )
    return lines


def run(args, out) -> int:
    """The plan command's handler (pypi_web.migrations.commands registers it)."""
    from .commands import connected

    with connected(args.config_uri) as (target, live, status):
        pending = _pending_or_refuse(status, target, out)
        if pending is None:
            return 0
        start = status.database_revision
        planner = plan_postgres if live.dialect.name == "postgresql" else plan_sqlite
        plans = planner(target.url, pending, start, live)
        header = _header(target, start, pending, live, args.config_uri)
        live.rollback()
    print("\n".join(header), file=out)
    print_plan(plans, out)
    return 0


def add_parser(sub, config_help: str) -> None:
    p = sub.add_parser(
        "plan", help="the SQL each pending revision will run, its locks and rewrites"
    )
    p.add_argument("config_uri", help=config_help)
    p.set_defaults(handler=run)
