"""pypi-web-db rehearse: the pending revisions on a throwaway copy, timed, checked, removed."""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pypi_web.migrations import head_revision
from pypi_web.migrations.cli import main
from pypi_web.migrations.rehearse import run

from .conftest import database_revision, downgrade, make_script_location, query, revision_source
from .test_history import schema_of

PYPI_WEB_DB = str(Path(sys.executable).parent / "pypi-web-db")
AUDIT = "49f8a6a1ce67"
EXTRA = "e0e0c0ffee01"


def copy_removed(out: str) -> None:
    """The copy the output names is gone (a file, or a database on the server)."""
    [copy] = re.findall(r"copying the database to (\S+) \(", out)
    url = sa.make_url(copy)
    if url.get_backend_name() == "sqlite":
        assert not Path(url.database).exists()
        return
    engine = sa.create_engine(url.set(database="postgres"), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        found = connection.execute(
            sa.text("SELECT count(*) FROM pg_database WHERE datname = :name"),
            {"name": url.database},
        ).scalar()
    engine.dispose()
    assert found == 0, f"{url.database} was left behind"


def history_with(tmp_path: Path, then: str) -> Path:
    """The real history and one revision more: a column no model has, then ``then``."""
    body = f"""
        with op.batch_alter_table("packages") as batch_op:
            batch_op.add_column(sa.Column("rehearsed", sa.Integer, nullable=True))
        {then}
        """
    source = revision_source(EXTRA, head_revision(), body)
    return make_script_location(tmp_path, {"extra.py": source})


def rehearse(url: str, history: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = run(argparse.Namespace(config_uri=url), out, script_location=history)
    return code, out.getvalue()


def test_a_rehearsal_on_real_data(data_database_url, tmp_path):
    url = data_database_url
    downgrade(url, AUDIT)
    before = schema_of(url)
    ini = tmp_path / "production.ini"
    ini.write_text(f"[app:main]\nuse = egg:pypi_web\nsqlalchemy.url = {url}\n", encoding="utf-8")
    result = subprocess.run([PYPI_WEB_DB, "rehearse", str(ini)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    shown = sa.make_url(url).render_as_string(hide_password=True)
    pending = len(lines) - 5
    assert (
        lines[0]
        == f"Rehearsing {pending} revision(s) on a copy of {shown} (sqlalchemy.url in {ini})"
    )
    assert re.fullmatch(r"copying the database to .* \(.*\) \.\.\. \d+\.\d s", lines[1])
    assert re.fullmatch(
        rf"\[1/{pending}\] 756594532db6 packages\.last_updated: added, backfilled, then NOT NULL "
        r"\.\.\. \d+\.\d s",
        lines[2],
    )
    assert lines[-3].startswith("checking the copy against the models ... ")
    assert lines[-1].endswith("the copy matches the models. The database itself was not touched.")
    copy_removed(result.stdout)
    assert database_revision(url) == AUDIT
    assert schema_of(url) == before
    assert query(url, "SELECT count(*) FROM packages") == [(96,)]


def test_a_failing_revision_is_reported_and_the_copy_removed(migrated_database_url, tmp_path):
    history = history_with(tmp_path, 'raise RuntimeError("no space left for it")')
    code, out = rehearse(migrated_database_url, history)
    assert code == 1
    assert f"[1/1] {EXTRA} test-only revision {EXTRA} ... " in out
    assert " s FAILED\n" in out
    assert "the revision failed: RuntimeError: no space left for it\n" in out
    copy_removed(out)
    assert database_revision(migrated_database_url) == head_revision()


def test_a_revision_that_leaves_drift_fails_the_rehearsal(migrated_database_url, tmp_path):
    history = history_with(tmp_path, "")
    code, out = rehearse(migrated_database_url, history)
    assert code == 1
    assert "  drift: column packages.rehearsed: not in the models\n" in out
    assert "the copy DIFFERS from the models" in out
    copy_removed(out)
    columns = {
        c["name"]
        for c in sa.inspect(sa.create_engine(migrated_database_url)).get_columns("packages")
    }
    assert "rehearsed" not in columns


@pytest.mark.parametrize(
    "interrupt", ["raise KeyboardInterrupt", "os.kill(os.getpid(), signal.SIGTERM)"]
)
def test_ctrl_c_or_sigterm_removes_the_copy(migrated_database_url, tmp_path, interrupt):
    history = history_with(tmp_path, f"import os, signal; {interrupt}")
    code, out = rehearse(migrated_database_url, history)
    assert code == 130
    assert " s stopped\n" in out
    assert "interrupted: the copy was removed; the database itself was not touched" in out
    copy_removed(out)


def test_nothing_pending_and_what_cannot_be_rehearsed(
    migrated_database_url, empty_database_url, unreachable_database_url, tmp_path, capsys
):
    assert main(["rehearse", migrated_database_url]) == 0
    assert "nothing pending (up to date)" in capsys.readouterr().out
    assert main(["rehearse", str(tmp_path / "none.ini")]) == 2
    assert capsys.readouterr().err.endswith("none.ini: no such configuration file\n")
    from pypi_web.models import Base, get_engine

    engine = get_engine({"sqlalchemy.url": empty_database_url})
    Base.metadata.create_all(engine)
    engine.dispose()
    assert main(["rehearse", empty_database_url]) == 1
    assert "adopt it first" in capsys.readouterr().err
    assert main(["rehearse", unreachable_database_url]) == 1
    assert capsys.readouterr().err.startswith("pypi-web-db rehearse: the database refused: ")


def test_without_pg_dump_postgres_says_what_to_install(
    migrated_postgres_url, tmp_path, capsys, monkeypatch
):
    history = history_with(tmp_path, "")
    monkeypatch.setenv("PATH", str(tmp_path))
    out = io.StringIO()
    from pypi_web.migrations.commands import CommandFailed

    with pytest.raises(
        CommandFailed, match=r"pg_dump not found: .*apt-get install postgresql-client"
    ):
        run(argparse.Namespace(config_uri=migrated_postgres_url), out, script_location=history)
    copy_removed(out.getvalue())


def test_the_postgres_copy_is_analysed(migrated_postgres_url):
    """pg_dump carries no planner statistics; without them a backfill got another plan."""
    from pypi_web.migrations.rehearse import _postgres_copy
    from pypi_web.migrations.schema import scratch_database

    with scratch_database(migrated_postgres_url) as copy_url:
        _postgres_copy(migrated_postgres_url, copy_url)
        analysed = query(
            copy_url,
            "SELECT count(*) FROM pg_stat_user_tables "
            "WHERE relname = 'packages' AND last_analyze IS NOT NULL",
        )
    assert analysed == [(1,)]
