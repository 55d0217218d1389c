"""Fixtures for the migration tests: databases at chosen revisions, with real data.

Every fixture here builds databases through the project's own env.py (the
same code path as `alembic upgrade`), on the backend of the session's
``backend`` fixture, so each test runs on SQLite and on Postgres.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from pypi_web.migrations import PROJECT_ROOT, SCRIPT_LOCATION, migration_engine, script_directory
from pypi_web.migrations import alembic_config as project_alembic_config
from pypi_web.models import get_engine
from pypi_web.models.search import SEARCH_SCHEMA_NAMES
from tests.conftest import import_top100, upgrade


def downgrade(url: str, revision: str, script_location=None) -> None:
    engine = migration_engine(url)
    with engine.connect() as connection:
        command.downgrade(
            project_alembic_config(connection, script_location=script_location), revision
        )
        connection.commit()
    engine.dispose()


def upgrade_at(url: str, revision: str = "head", script_location=None) -> None:
    """Both deploy steps: to ``revision``, contract revisions included (phases.py)."""
    engine = migration_engine(url)
    with engine.connect() as connection:
        cfg = project_alembic_config(connection, script_location=script_location)
        cfg.attributes["contract"] = True
        command.upgrade(cfg, revision)
        connection.commit()
    engine.dispose()


def stamp(url: str, revision: str, script_location=None) -> None:
    engine = migration_engine(url)
    with engine.connect() as connection:
        command.stamp(project_alembic_config(connection, script_location=script_location), revision)
        connection.commit()
    engine.dispose()


def revisions_base_to_head() -> list[str]:
    return [r.revision for r in reversed(list(script_directory().walk_revisions()))]


def revision_before(revision: str) -> str:
    down = script_directory().get_revision(revision).down_revision
    assert isinstance(down, str), f"{revision} is a merge or the base"
    return down


def database_revision(url: str) -> str | None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return None
            rows = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    return " ".join(r[0] for r in rows) or None


def execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
    finally:
        engine.dispose()


def query(url: str, statement: str) -> list[tuple]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(statement))]
    finally:
        engine.dispose()


def table_keys(url: str) -> dict[str, set[tuple]]:
    """Every app table's primary keys: a row is kept iff its key is still there."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    keys: dict[str, set[tuple]] = {}
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            for table in inspector.get_table_names():
                # The FTS5 index tables are derived data, rebuilt by their revision.
                if table.startswith("alembic_") or table in SEARCH_SCHEMA_NAMES:
                    continue
                columns = inspector.get_pk_constraint(table)["constrained_columns"]
                select = sa.text(f"SELECT {', '.join(columns)} FROM {table}")
                keys[table] = {tuple(row) for row in connection.execute(select)}
    finally:
        engine.dispose()
    return keys


@pytest.fixture
def data_database_url(database_factory, top100_dir) -> str:
    """A new database at head holding the top-100 PyPI data, for this test alone."""
    url = database_factory.create("data")
    upgrade(url)
    engine = get_engine({"sqlalchemy.url": url})
    import_top100(engine)
    engine.dispose()
    return url


def revision_source(revision: str, down: str, upgrade_body: str, phase: str = "expand") -> str:
    return f'''
"""test-only revision {revision}"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None
phase = "{phase}"


def upgrade():
{textwrap.indent(textwrap.dedent(upgrade_body).strip(), "    ")}


def downgrade():
    pass
'''


@pytest.fixture
def unreachable_database_url(backend, tmp_path) -> str:
    """A database URL on this backend that no connection can open."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite'}"
    return "postgresql+psycopg://nobody@127.0.0.1:1/nothing"


def make_script_location(directory: Path, extra_revisions: dict[str, str]) -> Path:
    """A copy of the project's migration environment plus test-only revisions.

    ``extra_revisions`` maps file names to their source; the real history is
    never touched.
    """
    target = directory / "alembic"
    shutil.copytree(SCRIPT_LOCATION, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name, source in extra_revisions.items():
        (target / "versions" / name).write_text(textwrap.dedent(source), encoding="utf-8")
    return target


def alembic_ini_for(location: Path, directory: Path) -> Path:
    """A copy of the project's alembic.ini whose script location is ``location``."""
    text = (PROJECT_ROOT / "alembic.ini").read_text(encoding="utf-8")
    assert "%(here)s/pypi_web/alembic" in text
    ini = directory / "alembic.ini"
    ini.write_text(text.replace("%(here)s/pypi_web/alembic", str(location)), encoding="utf-8")
    return ini


@pytest.fixture
def app_settings_for(app_settings):
    """An engine and settings for ``main({}, dbengine=..., **settings)`` on a database URL."""
    engines: list[sa.Engine] = []

    def make(url: str, **extra) -> tuple[sa.Engine, dict]:
        engine = get_engine({"sqlalchemy.url": url})
        engines.append(engine)
        return engine, {**app_settings, "sqlalchemy.url": url, **extra}

    yield make
    for engine in engines:
        engine.dispose()


# ---------------------------------------------------------------- pytest-alembic


def full_history_config():
    """The project's Alembic config, for runs that must reach the true head.

    pytest-alembic migrates to "heads" and expects the whole history there. If
    env.py ever applies only part of it to a plain `upgrade head` (revisions
    held back for a later deploy step), this is the one place that tells it
    to apply everything; test_alembic_kit.py fails loudly if it does not.
    "contract" is the attribute that makes env.py apply contract revisions
    too (the post-deploy step being written for expand/contract migrations);
    env.py ignores attributes it does not know.
    """
    cfg = project_alembic_config()
    cfg.attributes["contract"] = True
    return cfg


@pytest.fixture
def alembic_config():
    """pytest-alembic's config: the project's migrations and env.py, built in code."""
    return full_history_config()


@pytest.fixture
def alembic_engine(database_factory):
    """pytest-alembic's database: an empty one per test, on this session's backend.

    An Engine (env.py connects itself, taking Postgres' lock and timeouts) from
    migration_engine, so SQLite revisions run as atomically as they deploy.
    """
    engine = migration_engine(database_factory.create("kit"))
    yield engine
    engine.dispose()
