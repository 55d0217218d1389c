"""Never serve a page against a schema the code does not match.

``schema_status()`` compares a database's Alembic revision with the code's
head and classifies it:

=============  ==========================================================
up_to_date     the database is at the code's head
behind         at an older revision of this code: ``alembic upgrade head``
ahead          at a revision this code does not know, whose recorded
               lineage (see lineage.py) leads down to this code's head:
               newer code migrated it and this code was rolled back
empty          no tables at all: ``alembic upgrade head`` builds the schema
unversioned    tables but no Alembic revision: made by create_all, by hand
               or by a copy of the site older than Alembic: adopt it
unknown        a revision neither known nor descended from this code's
               head (another project, a hand-made stamp, a branch)
=============  ==========================================================

At start-up (``check_schema_at_startup``, called from main()) empty,
unversioned, unknown, and behind with revisions pending that the pre-deploy
step applies, refuse to start with the exact command to run. Otherwise (up to
date, ahead, or behind only by what waits for the post-deploy step) the guard
checks the real condition (compat.py): the live schema holds every table and
column the models map, compatibly, and every NOT NULL column they do not fill
has a default. It serves when that holds and refuses, naming what is missing,
when not. The revision costs two small queries; the check one reflection,
once per process and again only when /_status/schema sees a new revision.

``migrations.auto_upgrade = true`` upgrades a behind or empty database on
start, for development only: it is refused unless templates reload
(``pyramid.reload_templates = true``, development.ini's setting) and the
environment variable PYPI_WEB_ENV is not "production" or "staging".
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from pyramid.exceptions import ConfigurationError
from pyramid.settings import asbool
from sqlalchemy.engine import Connection, Engine

from . import ALEMBIC_INI, DEFAULT_APP_INI, INI_ENV_VAR, PROJECT_ROOT, script_directory
from .checksums import warn_if_modified
from .compat import Compatibility, check_models
from .lineage import BOOKKEEPING_TABLES, VERSION_TABLE, recorded_parents
from .phases import split_pending

log = logging.getLogger(__name__)

ENVIRONMENT_VAR = "PYPI_WEB_ENV"
NOT_DEVELOPMENT = ("production", "staging")

UP_TO_DATE = "up_to_date"
BEHIND = "behind"
AHEAD = "ahead"
EMPTY = "empty"
UNVERSIONED = "unversioned"
UNKNOWN = "unknown"
# Not a revision state but a stage of a deploy: behind by contract revisions only,
# what the pre-deploy step leaves (pypi-web-db status, and upgrade's last line).
POST_DEPLOY_PENDING = "post_deploy_pending"
# States the site may serve in.
SERVABLE = (UP_TO_DATE, AHEAD)


class SchemaMismatchError(RuntimeError):
    """The database does not have the schema this code needs."""


@dataclass
class SchemaStatus:
    state: str
    database_revisions: tuple[str, ...]
    code_head: str
    # Revisions `alembic upgrade head` would apply, oldest first.
    pending: list[str] = field(default_factory=list)
    # For a database ahead of the code: its revisions the code does not know, oldest first.
    newer: list[str] = field(default_factory=list)
    # Of ``pending``, those the pre-deploy step holds back (phases.py): the first
    # contract revision and all after it.
    pending_contract: list[str] = field(default_factory=list)
    # The models against the live schema (compat.py); None: not checked.
    compatibility: Compatibility | None = None

    @property
    def database_revision(self) -> str | None:
        return " ".join(self.database_revisions) or None

    @property
    def up_to_date(self) -> bool:
        return self.state == UP_TO_DATE

    @property
    def post_deploy_pending(self) -> bool:
        """The pre-deploy step has run: only contract revisions, the post-deploy step's, remain."""
        return self.state == BEHIND and self.pending == self.pending_contract

    @property
    def stage(self) -> str:
        """The state as an operator reads it: after the pre-deploy step, not plainly behind."""
        return POST_DEPLOY_PENDING if self.post_deploy_pending else self.state

    @property
    def checkable(self) -> bool:
        """A state the code may serve in, if the live schema fits its models."""
        return self.state in SERVABLE or self.post_deploy_pending

    @property
    def serves(self) -> bool:
        return self.checkable and self.compatibility is not None and self.compatibility.ok

    def as_dict(self) -> dict:
        data = asdict(self)
        data["compatibility"] = self.compatibility.as_dict() if self.compatibility else None
        data["serves"] = self.serves
        data["database_revisions"] = list(self.database_revisions)
        data["database_revision"] = self.database_revision
        data["up_to_date"] = self.up_to_date
        return data


def state_text(state: str) -> str:
    """A state (or stage) in words: "up to date", "post-deploy pending"."""
    return "post-deploy pending" if state == POST_DEPLOY_PENDING else state.replace("_", " ")


def _app_tables(connection: Connection) -> list[str]:
    names = sa.inspect(connection).get_table_names()
    return [n for n in names if n not in BOOKKEEPING_TABLES and not n.startswith("sqlite_")]


def _newer_revisions(
    connection: Connection, revision: str, script: ScriptDirectory, head: str
) -> list[str] | None:
    """Revisions from ``head`` (exclusive) up to ``revision``, if the lineage leads there."""
    parents = recorded_parents(connection)
    chain: list[str] = []
    current = revision
    seen: set[str] = set()
    while current not in seen:
        seen.add(current)
        if current == head:
            return list(reversed(chain))
        if _known(script, current):
            return None  # reached a revision of this code other than its head: a branch
        ups = parents.get(current)
        if not ups or len(ups) != 1:
            return None
        chain.append(current)
        current = ups[0]
    return None


def _known(script: ScriptDirectory, revision: str) -> bool:
    """Whether ``revision`` is exactly one of the code's (alembic would also match prefixes)."""
    try:
        found = script.revision_map.get_revision(revision)
    except (CommandError, RevisionError):
        return False
    return found is not None and found.revision == revision


def current_revisions(connection: Connection) -> tuple[str, ...]:
    """alembic_version's rows, read directly (MigrationContext would log its setup)."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return ()
    rows = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))
    return tuple(sorted(row[0] for row in rows))


def schema_status(connection: Connection, script: ScriptDirectory | None = None) -> SchemaStatus:
    script = script or script_directory()
    heads = script.get_heads()
    if len(heads) != 1:
        raise SchemaMismatchError(
            f"the code has {len(heads)} Alembic heads ({', '.join(heads)}); "
            "merge them with `alembic merge heads` before deploying"
        )
    head = heads[0]
    db_revisions = current_revisions(connection)
    if not db_revisions:
        state = UNVERSIONED if _app_tables(connection) else EMPTY
        pending = [r.revision for r in reversed(list(script.walk_revisions()))]
        return SchemaStatus(state, (), head, pending=pending if state == EMPTY else [])
    if db_revisions == (head,):
        return SchemaStatus(UP_TO_DATE, db_revisions, head)
    if all(_known(script, rev) for rev in db_revisions):
        pending = [r.revision for r in reversed(list(script.iterate_revisions(head, db_revisions)))]
        _, held = split_pending(script, pending)
        return SchemaStatus(BEHIND, db_revisions, head, pending=pending, pending_contract=held)
    if len(db_revisions) == 1:
        newer = _newer_revisions(connection, db_revisions[0], script, head)
        if newer:
            return SchemaStatus(AHEAD, db_revisions, head, newer=newer)
    return SchemaStatus(UNKNOWN, db_revisions, head)


def upgrade_command(app_ini: str | None = None, url: sa.URL | None = None) -> str:
    """The exact command that brings this app's database to head."""
    if not ALEMBIC_INI.is_file():  # an installed package: no checkout to run alembic in
        shown = url.render_as_string(hide_password=True) if url is not None else "CONFIG"
        return f"pypi-web-db upgrade {app_ini or shown}"
    if app_ini and Path(app_ini).resolve() != DEFAULT_APP_INI.resolve():
        return f"{INI_ENV_VAR}={app_ini} alembic upgrade head"
    if app_ini or url is None:
        return "alembic upgrade head"
    return f"alembic -x db_url={url.render_as_string(hide_password=True)} upgrade head"


def contract_command(app_ini: str | None = None, url: sa.URL | None = None) -> str:
    """The post-deploy step for this app's database: contract revisions too."""
    upgrade = upgrade_command(app_ini, url)
    if upgrade.startswith("pypi-web-db upgrade "):
        return upgrade.replace("pypi-web-db upgrade ", "pypi-web-db contract ", 1)
    return upgrade.replace(" upgrade head", " -x contract=true upgrade head")


def downgrade_command(head: str, app_ini: str | None = None, url: sa.URL | None = None) -> str:
    """Back to this code's head (run with the newer code, which knows how to go down)."""
    upgrade = upgrade_command(app_ini, url)
    if upgrade.startswith("pypi-web-db upgrade "):
        return upgrade.replace("pypi-web-db upgrade ", "pypi-web-db downgrade ", 1) + f" {head}"
    return upgrade.replace(" upgrade head", f" downgrade {head}")


def adopt_command(app_ini: str | None = None, url: sa.URL | None = None) -> str:
    if app_ini:
        return f"pypi-web-db adopt {app_ini}"
    if url is not None:
        return f"pypi-web-db adopt {url.render_as_string(hide_password=True)}"
    return "pypi-web-db adopt development.ini"


def _describe(script: ScriptDirectory, revision: str | None) -> str:
    if not revision:
        return "none"
    if " " in revision or not _known(script, revision):
        return revision
    doc = script.get_revision(revision).doc
    return f"{revision} ({doc.splitlines()[0]})" if doc else revision


def explain(
    status: SchemaStatus,
    script: ScriptDirectory | None = None,
    app_ini: str | None = None,
    url: sa.URL | None = None,
) -> str:
    """What is wrong and the command that fixes it, for the log and the console."""
    script = script or script_directory()
    where = f"{url.render_as_string(hide_password=True)}" if url is not None else "the database"
    lines = [
        f"  database:          {where}",
        f"  database revision: {_describe(script, status.database_revision)}",
        f"  code needs:        {_describe(script, status.code_head)}",
    ]
    if status.state == BEHIND:
        lines.append(f"  pending revisions: {', '.join(status.pending)}")
        head, tail = _explain_behind(status, app_ini, url)
    elif status.state == EMPTY:
        head = ["pypi_web: the database has no tables; refusing to start."]
        tail = [
            "Create the schema, then start the site again:",
            f"  {upgrade_command(app_ini, url)}",
        ]
    elif status.state in (UNVERSIONED, UNKNOWN):
        head, tail = _explain_unmanaged(status, app_ini, url)
    elif status.state == AHEAD:
        lines.append(f"  newer revisions:   {', '.join(status.newer)}")
        head, tail = _explain_ahead(status, app_ini, url)
    else:
        head = ["pypi_web: the database schema is up to date."]
        tail = []
    if status.state == BEHIND and status.checkable:
        head, tail = _explain_post_deploy_pending(status, app_ini, url)
    lines[0:0] = head
    if status.compatibility is not None:
        lines.append(f"  schema check:      {status.compatibility.summary()}")
        lines.extend(f"    - {problem}" for problem in status.compatibility.problems)
    if status.state == UP_TO_DATE and not status.serves:
        lines[0] = (
            "pypi_web: the database is at the code's head, but its schema lacks what the "
            "models map (changed by hand?); refusing to start."
        )
        tail = ["Compare it with the models: pypi-web-db status CONFIG (its DRIFT column)."]
    lines.extend(tail)
    if not status.serves and ALEMBIC_INI.is_file():
        lines.append(f"(run it from {PROJECT_ROOT}, where alembic.ini is)")
    return "\n".join(lines)


def _explain_behind(status: SchemaStatus, app_ini, url) -> tuple[list[str], list[str]]:
    """Revisions to apply: the upgrade, and the post-deploy step if contract ones are among them."""
    head = ["pypi_web: the database schema is behind the code; refusing to start."]
    tail = [
        "Bring the database up to date, then start the site again:",
        f"  {upgrade_command(app_ini, url)}",
    ]
    if status.pending_contract:
        tail[0] = (
            "Bring the database up to date (the pre-deploy step, then, once no older "
            "release serves it, the post-deploy step, which applies the contract "
            f"revisions {', '.join(status.pending_contract)}), then start the site again:"
        )
        tail.append(f"  {contract_command(app_ini, url)}")
    return head, tail


def _explain_unmanaged(status: SchemaStatus, app_ini, url) -> tuple[list[str], list[str]]:
    """No revision, or one this code does not know: adopt compares the schema with each."""
    adopt = adopt_command(app_ini, url)
    if status.state == UNVERSIONED:
        head = [
            "pypi_web: the database has tables but no Alembic revision (no alembic_version "
            "table): it was not made by `alembic upgrade`; refusing to start."
        ]
        tail = [
            "Compare it with each revision and stamp the one it matches:",
            f"  {adopt}",
            "then bring it up to date:",
            f"  {upgrade_command(app_ini, url)}",
        ]
    else:
        head = [
            f"pypi_web: the database is at revision {status.database_revision}, which this "
            "code does not know and which is not a recorded descendant of its head; "
            "refusing to start."
        ]
        tail = [
            "If this is the right database, check its schema against this code's revisions:",
            f"  {adopt}",
        ]
    return head, tail


def _explain_ahead(status: SchemaStatus, app_ini, url) -> tuple[list[str], list[str]]:
    if status.serves:
        head = [
            "pypi_web: the database is ahead of the code (code rolled back, or the next "
            "release's expand revisions applied); serving: its schema still holds what "
            "this code maps."
        ]
        return head, []
    head = [
        f"pypi_web: the database is at revision {status.database_revision}, newer than "
        "this code, and lacks what this code maps (removed by one of the newer revisions "
        "below); refusing to start."
    ]
    tail = [
        f"Roll forward: deploy the code whose head is {status.database_revision}. Or, to "
        "run this code, downgrade the database with the newer code (this code does not "
        "know how to reverse its revisions), from its checkout:",
        f"  {downgrade_command(status.code_head, app_ini, url)}",
    ]
    return head, tail


def _explain_post_deploy_pending(status: SchemaStatus, app_ini, url):
    held = ", ".join(status.pending_contract)
    if status.serves:
        head = [
            "pypi_web: the pre-deploy step has run; serving. The post-deploy step is "
            f"pending (contract revisions {held})."
        ]
        tail = [
            "Once no older release serves this database:",
            f"  {contract_command(app_ini, url)}",
        ]
        return head, tail
    head = [
        "pypi_web: the database lacks what this code maps, which revisions held back for "
        f"the post-deploy step ({held}) provide; refusing to start."
    ]
    tail = [
        "Once no older release serves this database, apply them, then start the site again:",
        f"  {contract_command(app_ini, url)}",
    ]
    return head, tail


def is_development(settings: dict) -> bool:
    env = os.environ.get(ENVIRONMENT_VAR, "").strip().lower()
    return asbool(settings.get("pyramid.reload_templates", False)) and env not in NOT_DEVELOPMENT


def _auto_upgrade(engine: Engine) -> None:
    from alembic import command

    from . import alembic_config, migration_engine

    url = engine.url.render_as_string(hide_password=False)
    migrator = migration_engine(url)
    try:
        with migrator.connect() as connection:
            cfg = alembic_config(connection)
            # Development runs one release: no older one to keep serving.
            cfg.attributes["contract"] = True
            command.upgrade(cfg, "head")
            connection.commit()
    finally:
        migrator.dispose()


def compatibility_for(
    status: SchemaStatus, connection: Connection, cache: dict | None = None
) -> Compatibility | None:
    """The schema check for the database's revision: reflected once per revision seen."""
    if not status.checkable:
        return None
    cache = {} if cache is None else cache
    key = status.database_revisions
    if key not in cache:
        cache.clear()  # the revision changed: the old result says nothing now
        cache[key] = check_models(connection)
    return cache[key]


def check_schema_at_startup(
    engine: Engine, settings: dict, app_ini: str | None = None, cache: dict | None = None
) -> SchemaStatus:
    """Refuse to build the app unless the code can serve its database (see module doc).

    ``cache`` keeps the schema check for /_status/schema (the registry's).
    """
    auto_upgrade = asbool(settings.get("migrations.auto_upgrade", False))
    if auto_upgrade and not is_development(settings):
        raise ConfigurationError(
            "migrations.auto_upgrade = true is for development only: it needs "
            f"pyramid.reload_templates = true and {ENVIRONMENT_VAR} not set to "
            f"{' or '.join(NOT_DEVELOPMENT)}. Upgrade staging and production with "
            "`alembic upgrade head` before deploying the code."
        )
    script = script_directory()
    with engine.connect() as connection:
        status = schema_status(connection, script)
    if auto_upgrade and status.state in (BEHIND, EMPTY):
        shown = engine.url.render_as_string(hide_password=True)
        log.warning("migrations.auto_upgrade: upgrading %s to head", shown)
        _auto_upgrade(engine)
        with engine.connect() as connection:
            status = schema_status(connection, script)
    with engine.connect() as connection:
        status.compatibility = compatibility_for(status, connection, cache)
    # Revision files edited since this database applied them: logged (checksums.py).
    warn_if_modified(engine, script, status, log)
    if status.state == UP_TO_DATE and status.serves:
        log.info("pypi_web: the database schema is up to date; %s", status.compatibility.summary())
        return status
    message = explain(status, script, app_ini, engine.url)
    if status.serves:
        log.warning("%s", message)
        print(message, file=sys.stderr)
        return status
    log.error("%s", message)
    print(message, file=sys.stderr)
    raise SchemaMismatchError(message)
