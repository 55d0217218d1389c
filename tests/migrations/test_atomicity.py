"""A revision that fails half-way leaves the database at the previous revision, rows intact.

The failing revisions live in a temporary copy of the migration environment,
never in the real history.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pypi_web.migrations import PROJECT_ROOT, head_revision
from pypi_web.migrations.schema import snapshot

from .conftest import (
    alembic_ini_for,
    database_revision,
    make_script_location,
    query,
    revision_source,
    upgrade_at,
)

ALEMBIC = str(Path(sys.executable).parent / "alembic")
KEPT = "a11c0ffee001"
DOOMED = "a11c0ffee002"


@pytest.fixture
def failing_history(tmp_path) -> Path:
    head = head_revision()
    kept = revision_source(
        KEPT,
        head,
        """
        op.create_table("kept_table", sa.Column("id", sa.Integer, primary_key=True))
        """,
    )
    # Every kind of change, then a failure: schema (a new table, a column
    # added in batch mode, which rebuilds the table on SQLite), data
    # (updates and deletes across tables), then an error.
    doomed = revision_source(
        DOOMED,
        KEPT,
        """
        op.create_table("doomed_table", sa.Column("id", sa.Integer, primary_key=True))
        with op.batch_alter_table("packages") as batch_op:
            batch_op.add_column(sa.Column("doomed_column", sa.Integer, nullable=True))
            batch_op.alter_column("summary", existing_type=sa.Text(), nullable=True)
        op.execute("UPDATE packages SET summary = 'clobbered', doomed_column = 1")
        op.execute("DELETE FROM release_files")
        op.execute("DELETE FROM releases")
        op.drop_table("kept_table")
        raise RuntimeError("deliberate failure half-way through the revision")
        """,
    )
    return make_script_location(tmp_path, {"kept.py": kept, "doomed.py": doomed})


def rows(url: str) -> dict[str, list[tuple]]:
    tables = ("packages", "releases", "release_files", "classifiers", "package_classifiers")
    return {t: sorted(query(url, f"SELECT * FROM {t}"), key=repr) for t in tables}


def schema(url: str) -> dict:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return snapshot(connection)
    finally:
        engine.dispose()


def test_a_failing_revision_leaves_the_previous_revision_and_every_row(
    data_database_url, failing_history
):
    url = data_database_url
    rows_before = rows(url)
    assert len(rows_before["release_files"]) == 19160
    with pytest.raises(RuntimeError, match="deliberate failure half-way"):
        upgrade_at(url, "head", script_location=failing_history)
    # The revision before it committed; the failing one left no trace.
    assert database_revision(url) == KEPT
    after = schema(url)
    assert "kept_table" in after
    assert "doomed_table" not in after
    assert "doomed_column" not in after["packages"]["columns"]
    assert rows(url) == rows_before


def test_the_failure_reaches_the_command_line_and_the_database_is_unchanged(
    migrated_database_url, failing_history, tmp_path
):
    """`alembic upgrade head` itself: non-zero exit, the error shown, previous revision kept."""
    url = migrated_database_url
    ini = alembic_ini_for(failing_history, tmp_path)
    result = subprocess.run(
        [ALEMBIC, "-c", str(ini), "-x", f"db_url={url}", "upgrade", "head"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode != 0
    assert "deliberate failure half-way" in result.stderr
    assert database_revision(url) == KEPT
    assert "doomed_table" not in schema(url)


def test_postgres_migrations_run_with_timeouts_under_the_advisory_lock(
    backend, migrated_database_url, tmp_path
):
    if backend != "postgresql":
        pytest.skip("lock_timeout, statement_timeout and advisory locks are Postgres features")
    probe = revision_source(
        "a11c0ffee003",
        head_revision(),
        """
        op.execute(
            "CREATE TABLE probe AS SELECT current_setting('lock_timeout') AS lock_timeout, "
            "current_setting('statement_timeout') AS statement_timeout, "
            "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid()) AS advisory_locks"
        )
        """,
    )
    location = make_script_location(tmp_path, {"probe.py": probe})
    ini = alembic_ini_for(location, tmp_path)
    app_ini = tmp_path / "staging.ini"
    app_ini.write_text(
        "[app:main]\nuse = egg:pypi_web\n"
        f"sqlalchemy.url = {migrated_database_url}\n"
        "migrations.lock_timeout = 1234ms\n"
        "migrations.statement_timeout = 42s\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [ALEMBIC, "-c", str(ini), "upgrade", "head"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={"PYPI_WEB_INI": str(app_ini), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert query(migrated_database_url, "SELECT * FROM probe") == [("1234ms", "42s", 1)]
    # The lock is released when the run ends (this database's: other test runs on
    # the same server take their own).
    assert query(
        migrated_database_url,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
    ) == [(0,)]


def test_concurrent_upgrades_on_postgres_take_turns(backend, empty_database_url, tmp_path):
    """A second `alembic upgrade head` waits for the advisory lock the first one holds.

    It waits longer than its lock_timeout: that bounds locks on tables, not the
    queue of deploys.
    """
    if backend != "postgresql":
        pytest.skip("advisory locks are a Postgres feature")
    import time

    url = empty_database_url
    app_ini = tmp_path / "production.ini"
    app_ini.write_text(
        f"[app:main]\nuse = egg:pypi_web\nsqlalchemy.url = {url}\nmigrations.lock_timeout = 50ms\n",
        encoding="utf-8",
    )
    holder = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with holder.connect() as connection:
        # Stand in for a first deploy host that is migrating right now.
        connection.execute(sa.text("SELECT pg_advisory_lock(hashtext('pypi_web.alembic'))"))
        connection.commit()
        second = subprocess.Popen(
            [ALEMBIC, "-x", f"ini={app_ini}", "upgrade", "head"],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            waiting = 0
            for _ in range(600):  # poll until the second run is queued on the lock
                waiting = connection.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND NOT granted AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                ).scalar()
                connection.commit()
                if waiting or second.poll() is not None:
                    break
                time.sleep(0.1)
            assert waiting == 1, second.communicate()
            time.sleep(0.5)  # ten times its lock_timeout: it must still be waiting
            assert second.poll() is None, second.communicate()
            assert database_revision(url) is None  # it has not started migrating
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(hashtext('pypi_web.alembic'))"))
            connection.commit()
        _, stderr = second.communicate(timeout=120)
    holder.dispose()
    assert second.returncode == 0, stderr
    assert "Waiting for the migration advisory lock" in stderr
    assert database_revision(url) == head_revision()
