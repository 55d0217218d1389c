"""``pypi-web-db rehearse CONFIG``: the pending revisions, timed, on a throwaway copy.

What a migration will take on production is only known by running it on
production's data. This copies the environment's database without locking
it, applies its pending revisions to the copy one at a time with a progress
line each (the same env.py, timeouts and all, as the real run), checks the
result against the models (status' drift check), and removes the copy,
whatever happens: a failed revision, Ctrl+C, SIGTERM.

* SQLite: the online backup API, a few MB at a time, so the site's writes
  wait a moment at most (in WAL mode not at all).
* Postgres: ``pg_dump | psql`` into a scratch database on the same server
  (the user needs CREATEDB, as adopt does), then ANALYZE, since the dump
  carries no planner statistics. pg_dump reads in one snapshot
  with ACCESS SHARE locks, which the site's reads and writes never wait for;
  only DDL does, so do not rehearse while migrating. ``CREATE DATABASE ...
  TEMPLATE`` would be faster but refuses a template anyone is connected to.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import command

from . import alembic_config, migration_engine, script_directory
from .commands import BadArgument, CommandFailed, connected
from .schema import scratch_database
from .targets import shown_url

SQLITE_PAGES_PER_STEP = 4096


class Ticker:
    """``label ... 12 s`` on one line: ticking on a terminal, once at the end otherwise."""

    def __init__(self, label: str, out):
        self.label = label
        self.out = out
        self.tty = hasattr(out, "isatty") and out.isatty()
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> Ticker:
        if self.tty:
            self._thread.start()
        return self

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            print(f"\r{self.label} ... {self.elapsed:.0f} s", end="", file=self.out, flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __exit__(self, kind, exc, tb) -> None:
        self._stop.set()
        if self.tty:
            self._thread.join()
        outcome = "" if kind is None else " FAILED" if kind is not KeyboardInterrupt else " stopped"
        start = "\r" if self.tty else ""
        print(f"{start}{self.label} ... {self.elapsed:.1f} s{outcome}", file=self.out, flush=True)


def _sqlite_copy(source_url: str, target_url: str) -> None:
    source = sqlite3.connect(f"file:{sa.make_url(source_url).database}?mode=ro", uri=True)
    target = sqlite3.connect(sa.make_url(target_url).database)
    try:
        # Stepwise: the source is read-locked for a step at a time, not for the whole copy.
        source.backup(target, pages=SQLITE_PAGES_PER_STEP, sleep=0.001)
    finally:
        target.close()
        source.close()


def _libpq(url: str) -> tuple[str, dict]:
    """A libpq connection URI for ``url``, its password kept out of the command line."""
    parsed = sa.make_url(url)
    env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(False)
    return uri, env


def _postgres_copy(source_url: str, target_url: str) -> None:
    for tool in ("pg_dump", "psql"):
        if shutil.which(tool) is None:
            raise CommandFailed(
                f"{tool} not found: rehearsing on Postgres copies the database with pg_dump | "
                "psql (Debian: apt-get install postgresql-client)"
            )
    source, source_env = _libpq(source_url)
    target, target_env = _libpq(target_url)
    dump = subprocess.Popen(
        ["pg_dump", "--no-owner", "--no-privileges", "--dbname", source],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=source_env,
    )
    restore = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", target],
        stdin=dump.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=target_env,
    )
    dump.stdout.close()  # psql alone reads it now, so pg_dump sees a closed pipe if psql dies
    try:
        restore_err = restore.communicate()[1]
        dump_err = dump.communicate()[1]
    finally:
        for process in (dump, restore):
            if process.poll() is None:
                process.kill()
                process.wait()
    for name, process, err in (("pg_dump", dump, dump_err), ("psql", restore, restore_err)):
        if process.returncode != 0:
            first = err.decode(errors="replace").strip().splitlines()
            raise CommandFailed(f"{name} failed: {first[0] if first else process.returncode}")
    # pg_dump carries no planner statistics: without them the copy's queries get
    # plans production never would (a backfill that takes seconds there timed out
    # after 5 minutes on an unanalysed copy of the 1M-release database).
    engine = sa.create_engine(target_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


@contextlib.contextmanager
def throwaway_copy(url: str, out) -> Iterator[str]:
    """A copy of the database at ``url``, removed on the way out whatever happened."""
    backend = sa.make_url(url).get_backend_name()
    with scratch_database(url) as copy_url:
        how = "the online backup API" if backend == "sqlite" else "pg_dump | psql"
        with Ticker(f"copying the database to {shown_url(copy_url)} ({how})", out):
            (_sqlite_copy if backend == "sqlite" else _postgres_copy)(url, copy_url)
        try:
            yield copy_url
        finally:
            print("removing the copy", file=out, flush=True)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM cleans up as Ctrl+C does (the copy is removed) instead of killing outright."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def apply_timed(copy_url: str, config_uri: str, pending: list[str], out, script_location=None):
    """Each pending revision on the copy, through env.py, one progress line each.

    The engine is handed to env.py, which connects itself as for a real run
    (on Postgres: the advisory lock, and the environment's lock_timeout and
    statement_timeout, read from its ini file).
    """
    script = script_directory(script_location)
    engine = migration_engine(copy_url)
    timings: list[tuple[str, float]] = []
    try:
        for number, revision in enumerate(pending, 1):
            cfg = alembic_config(
                app_ini=None if "://" in config_uri else config_uri,
                script_location=script_location,
            )
            cfg.attributes["connection"] = engine
            # Every pending revision, contract ones too (held back from a plain upgrade).
            cfg.attributes["contract"] = True
            doc = (script.get_revision(revision).doc or "").strip().splitlines()
            label = f"[{number}/{len(pending)}] {revision} {doc[0] if doc else ''}".rstrip()
            with Ticker(label, out) as ticker:
                command.upgrade(cfg, revision)
            timings.append((revision, ticker.elapsed))
    finally:
        engine.dispose()
    return timings


def check_copy(copy_url: str, out, script_location=None) -> list[str]:
    """What the copy lacks to match the models (status' drift check); empty when it matches."""
    from .cli import drift
    from .guard import schema_status

    engine = sa.create_engine(copy_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            status = schema_status(connection, script_directory(script_location))
            problems = [] if status.up_to_date else [f"the copy is {status.state} after the run"]
            return problems + drift(connection)
    finally:
        engine.dispose()


def _pending(status, target) -> list[str] | None:
    from .guard import AHEAD, UNKNOWN, UNVERSIONED, UP_TO_DATE

    if status.state == UNVERSIONED:
        raise CommandFailed(
            f"{target.described}: tables but no Alembic revision: adopt it first "
            "(pypi-web-db adopt)"
        )
    if status.state == UNKNOWN:
        raise CommandFailed(
            f"{target.described}: at revision {status.database_revision}, which this code "
            "does not know: nothing to rehearse"
        )
    if status.state in (UP_TO_DATE, AHEAD):
        return None
    return list(status.pending)


def run(args, out, script_location=None) -> int:
    """The rehearse command's handler (pypi_web.migrations.commands registers it)."""
    with connected(args.config_uri, script_location) as (target, _, status):
        pending = _pending(status, target)
    if pending is None:
        print(f"{target.described}: nothing pending ({status.state.replace('_', ' ')}).", file=out)
        return 0
    print(f"Rehearsing {len(pending)} revision(s) on a copy of {target.described}", file=out)
    started = time.monotonic()
    try:
        with sigterm_as_interrupt(), throwaway_copy(target.url, out) as copy_url:
            copied = time.monotonic() - started
            timings = apply_timed(copy_url, args.config_uri, pending, out, script_location)
            with Ticker("checking the copy against the models", out):
                problems = check_copy(copy_url, out, script_location)
    except KeyboardInterrupt:
        print("interrupted: the copy was removed; the database itself was not touched", file=out)
        return 130
    except (CommandFailed, BadArgument):
        raise
    except Exception as exc:  # the rehearsal found what the real run would have met
        print(f"the revision failed: {type(exc).__name__}: {exc}", file=out)
        print("the copy was removed; the database itself was not touched", file=out)
        return 1
    for problem in problems:
        print(f"  drift: {problem}", file=out)
    total = sum(seconds for _, seconds in timings)
    print(
        f"{len(timings)} revision(s) in {total:.1f} s on the copy (copied in {copied:.1f} s); "
        f"the copy {'DIFFERS from' if problems else 'matches'} the models. "
        "The database itself was not touched.",
        file=out,
    )
    return 1 if problems else 0


def add_parser(sub, config_help: str) -> None:
    p = sub.add_parser(
        "rehearse", help="apply the pending revisions to a throwaway copy, timed, then check it"
    )
    p.add_argument("config_uri", help=config_help)
    p.set_defaults(handler=run)
