"""Alembic environment for pypi_web.

Where the database is:
  * ``config.attributes["connection"]``: a Connection (the caller owns its
    transaction), or an Engine (env.py connects, as for a URL: pytest-alembic's
    pattern; hand in one from ``pypi_web.migrations.migration_engine`` so that
    SQLite revisions stay atomic);
  * otherwise ``-x db_url=...`` or ``config.attributes["db_url"]``;
  * otherwise ``sqlalchemy.url`` of the app's ini file: ``-x ini=FILE``, else
    the PYPI_WEB_INI environment variable, else development.ini.

Each revision runs in its own transaction (SQLite included, see
migration_engine), so a failing revision leaves the previous one in place.
On Postgres a run holds an advisory lock (concurrent deploys queue) and uses
the app settings ``migrations.lock_timeout`` (default 4s) and
``migrations.statement_timeout`` (default 5min). Every run records the
revision graph in alembic_version_lineage (pypi_web.migrations.lineage).

Expand and contract (pypi_web.migrations.phases): an upgrade to the head
stops before the first pending contract revision (the pre-deploy step),
unless ``-x contract=true`` or ``config.attributes["contract"]`` asks for the
post-deploy step, which applies everything.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from logging.config import fileConfig
from pathlib import Path

from alembic import context, util
from pyramid.settings import asbool
from sqlalchemy import text
from sqlalchemy.engine import Connection

import pypi_web.models  # noqa: F401  (registers every model on the metadata)
from pypi_web.config import AppConfig, ConfigError, read_app_config
from pypi_web.config import database_url as config_database_url
from pypi_web.migrations import DEFAULT_APP_INI, INI_ENV_VAR, migration_engine
from pypi_web.migrations.checksums import on_version_apply as record_checksums
from pypi_web.migrations.lineage import BOOKKEEPING_TABLES, on_version_apply
from pypi_web.migrations.phases import (
    POST_DEPLOY_ALEMBIC,
    POST_DEPLOY_COMMAND,
    describe,
    pre_deploy_steps,
)
from pypi_web.migrations.targets import announce_migration
from pypi_web.models.meta import Base
from pypi_web.models.search import SEARCH_SCHEMA_NAMES

config = context.config
log = logging.getLogger("alembic.env")

# Tests configure logging themselves; fileConfig would disable their loggers.
if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
x_args = context.get_x_argument(as_dictionary=True)


def app_ini() -> str:
    ini = x_args.get("ini") or config.attributes.get("app_ini") or os.environ.get(INI_ENV_VAR)
    if ini:
        return str(Path(ini))
    # development.ini beside the alembic.ini in use (the checkout's own).
    if config.config_file_name:
        return str(Path(config.config_file_name).resolve().parent / DEFAULT_APP_INI.name)
    return str(DEFAULT_APP_INI)


@functools.cache
def app_config() -> AppConfig:
    try:
        return read_app_config(app_ini())
    except ConfigError as exc:
        raise SystemExit(f"alembic: {exc}") from exc


def app_settings() -> dict[str, str]:
    return app_config().settings


def database_target() -> tuple[str, str]:
    """The database URL, and where it came from (named before anything changes)."""
    if x_args.get("db_url"):
        return x_args["db_url"], "-x db_url"
    if config.attributes.get("db_url"):
        return config.attributes["db_url"], "the URL given"
    try:
        return config_database_url(app_settings(), app_ini()), app_config().origin("sqlalchemy.url")
    except ConfigError as exc:
        raise SystemExit(f"alembic: {exc}") from exc


def database_url() -> str:
    return database_target()[0]


def render_item(type_, obj, autogen_context):
    """Render the app's UTCDateTime as a plain DateTime(timezone=True).

    Migrations must not import app code that may later change or move.
    """
    from pypi_web.models.meta import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def process_revision_directives(ctx, revision, directives):
    # `alembic revision --autogenerate` with nothing to do writes no file.
    if getattr(config.cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []
            log.info("No changes in schema detected; no revision written.")


def include_name(name, type_, parent_names):
    # The lineage table is Alembic bookkeeping like alembic_version, not a model.
    if type_ == "table" and name in BOOKKEEPING_TABLES:
        return False
    # The full-text search objects (FTS5 table and its shadow tables, the GIN
    # expression index) are made by a hand-written revision: see models/search.py.
    return name not in SEARCH_SCHEMA_NAMES


COMMON_OPTIONS = dict(
    target_metadata=target_metadata,
    render_as_batch=True,
    compare_type=True,
    compare_server_default=True,
    render_item=render_item,
    process_revision_directives=process_revision_directives,
    include_name=include_name,
    # Records the revision graph in the database (pypi_web.migrations.lineage),
    # so code that was rolled back can tell "ahead" from "unknown"; and the
    # checksum of each revision file applied (pypi_web.migrations.checksums).
    on_version_apply=(on_version_apply, record_checksums),
)


def contract_requested() -> bool:
    """The post-deploy step: contract revisions too."""
    return asbool(x_args.get("contract", False)) or bool(config.attributes.get("contract"))


def _announce_held_back(held) -> None:
    revisions = [step.revision for step in held if getattr(step, "is_upgrade", False)]
    lines = [
        f"Held back {len(revisions)} revision(s), from the first contract revision on, "
        "for the post-deploy step:"
    ]
    lines += [f"  {describe(rev)}" for rev in revisions]
    lines.append(
        f"Once every server runs the new code: {POST_DEPLOY_COMMAND} (or {POST_DEPLOY_ALEMBIC})"
    )
    log.info("%s", "\n".join(lines))
    print("\n".join(lines), file=sys.stderr, flush=True)


def _hold_back_contract_revisions() -> None:
    """The pre-deploy step: an upgrade to the head stops before the first contract revision."""
    if contract_requested():
        return
    try:
        destination = context.get_revision_argument()
    except KeyError:  # a command with no destination (check, revision --autogenerate)
        return
    if set(util.to_tuple(destination, default=())) != set(context.script.get_heads()):
        return  # a named revision short of the head: the operator chose where to stop
    migration_context = context.get_context()
    # The command's own step planner (Alembic keeps it there; no public hook cuts it).
    planned = migration_context._migrations_fn

    def steps(heads, ctx):
        run = planned(heads, ctx)
        if not heads:
            return run  # an empty database: no release serves it yet
        run, held = pre_deploy_steps(run)
        if held:
            _announce_held_back(held)
        return run

    migration_context._migrations_fn = steps


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
        **COMMON_OPTIONS,
    )
    _hold_back_contract_revisions()
    with context.begin_transaction():
        context.run_migrations()


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        transaction_per_migration=True,
        # SQLite DDL is transactional once the engine stops pysqlite's
        # implicit commits (see pypi_web.migrations.migration_engine).
        transactional_ddl=True,
        **COMMON_OPTIONS,
    )
    _hold_back_contract_revisions()
    with context.begin_transaction():
        context.run_migrations()


def _postgres_settings() -> tuple[str, str]:
    try:
        settings = app_settings()
    except SystemExit:
        settings = {}
    return (
        settings.get("migrations.lock_timeout", "4s"),
        settings.get("migrations.statement_timeout", "5min"),
    )


def _run_on_own_connection(connection: Connection) -> None:
    """A connection env.py opened itself: on Postgres, the lock and the timeouts."""
    if connection.dialect.name != "postgresql":
        _configure_and_run(connection)
        return
    lock_timeout, statement_timeout = _postgres_settings()
    # Serialise concurrent deploys: a second host waits here for as long
    # as the first one migrates (taken before lock_timeout applies, which
    # would otherwise make it give up).
    log.info("Waiting for the migration advisory lock...")
    connection.execute(text("SELECT pg_advisory_lock(hashtext('pypi_web.alembic'))"))
    # Then fail fast instead of queueing behind a long transaction and
    # blocking every request behind us.
    connection.execute(text("SELECT set_config('lock_timeout', :v, false)"), {"v": lock_timeout})
    connection.execute(
        text("SELECT set_config('statement_timeout', :v, false)"), {"v": statement_timeout}
    )
    # End the autobegun transaction (session settings and the lock
    # survive it) so Alembic manages its own per-migration transactions.
    connection.commit()
    try:
        _configure_and_run(connection)
    finally:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(hashtext('pypi_web.alembic'))"))
        connection.commit()


def run_migrations_online() -> None:
    # config.attributes["connection"] (the cookbook's and pytest-alembic's pattern):
    # a Connection is the caller's, transaction and all; an Engine hands env.py
    # the database to connect to itself, as a URL does.
    connectable = config.attributes.get("connection")
    if isinstance(connectable, Connection):
        _configure_and_run(connectable)
        return
    if connectable is not None:
        with connectable.connect() as connection:
            _run_on_own_connection(connection)
        return

    url, origin = database_target()
    announce_migration(url, origin, context)
    engine = migration_engine(url)
    try:
        with engine.connect() as connection:
            _run_on_own_connection(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
