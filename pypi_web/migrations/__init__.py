"""Running Alembic from the app, its tools and its tests.

The migrations live inside the package, ``pypi_web/alembic`` (env.py, the
revision template, versions/), so a wheel carries them; a checkout also has
``alembic.ini`` and ``alembic/`` (a symlink to the package's) at its top, for
the ``alembic`` command. These helpers build an Alembic ``Config`` in code
(an installed package has no alembic.ini) and an engine that makes SQLite
migrations as atomic as Postgres ones.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

from pypi_web.config import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# The checkout (meaningful in a source tree only: an installed package has no alembic.ini).
PROJECT_ROOT = PACKAGE_ROOT.parent
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
DEFAULT_APP_INI = PROJECT_ROOT / "development.ini"
# Names the app's ini file for a plain `alembic upgrade head` (staging, production).
INI_ENV_VAR = "PYPI_WEB_INI"

SCRIPT_LOCATION = PACKAGE_ROOT / "alembic"


class MigrationsNotFoundError(ConfigError):
    """The code cannot find its own migrations (a package built or installed without them)."""


def alembic_config(
    connection: Connection | None = None,
    *,
    app_ini: str | os.PathLike | None = None,
    db_url: str | None = None,
    script_location: str | os.PathLike | None = None,
) -> Config:
    """An Alembic Config for this project, built in code (as Warehouse builds its own).

    No alembic.ini is read: an installed package has none, and what it holds
    beyond the script location (the new-revision file template, its
    post-write hooks, logging) only matters to `alembic` run in a checkout.
    With ``connection`` env.py migrates that connection (the caller owns its
    transaction); otherwise it reads the database URL from ``db_url`` or the
    app's ini file. ``script_location`` points at another copy of the
    migration environment (tests use one holding an extra revision).
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location or SCRIPT_LOCATION))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    if app_ini is not None:
        cfg.attributes["app_ini"] = str(app_ini)
    if db_url is not None:
        cfg.attributes["db_url"] = db_url
    return cfg


_script_directories: dict[str, ScriptDirectory] = {}


def script_directory(script_location: str | os.PathLike | None = None) -> ScriptDirectory:
    """The revisions the code knows (parsed once per location and process)."""
    key = str(script_location or SCRIPT_LOCATION)
    if key not in _script_directories:
        location = Path(key)
        if not (location / "env.py").is_file() or not any(location.glob("versions/*.py")):
            raise MigrationsNotFoundError(
                f"pypi_web: no migrations found at {location} (env.py and versions/*.py): "
                "this copy of the package was built or installed without them; install "
                "it from a wheel or an sdist that has pypi_web/alembic"
            )
        cfg = alembic_config(script_location=key)
        _script_directories[key] = ScriptDirectory.from_config(cfg)
    return _script_directories[key]


def head_revision(script_location: str | os.PathLike | None = None) -> str:
    """The single head revision of the code; several heads is an error."""
    heads = script_directory(script_location).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected exactly one Alembic head, found {len(heads)}: {heads}")
    return heads[0]


def migration_engine(url: str) -> Engine:
    """An engine suited to running migrations on ``url``."""
    from sqlalchemy.pool import NullPool

    from pypi_web.models import use_explicit_sqlite_transactions

    engine = create_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        # DDL inside the transaction, so a failed revision rolls back whole;
        # IMMEDIATE takes the write lock up front. Batch mode copies and drops
        # tables, so foreign keys must not fire while it does.
        use_explicit_sqlite_transactions(engine, begin="BEGIN IMMEDIATE", foreign_keys=False)
    return engine


def includeme(config):
    """/_status/schema, and 503 for SQL the live schema refuses; main() calls the start-up guard."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from .views import SchemaRefusedPredicate, database_refused_view, schema_status_view

    config.add_route("schema_status", "/_status/schema")
    config.add_view(schema_status_view, route_name="schema_status", renderer="json")
    config.add_view_predicate("schema_refused", SchemaRefusedPredicate)
    for refused in (OperationalError, ProgrammingError):
        config.add_exception_view(database_refused_view, context=refused, schema_refused=True)
