"""pypi-web-db upgrade, downgrade, current and history: Alembic without alembic.ini."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from pypi_web.migrations import head_revision
from pypi_web.migrations.cli import main

from .conftest import database_revision, revision_before, upgrade_at

PYPI_WEB_DB = str(Path(sys.executable).parent / "pypi-web-db")
AUDIT = "49f8a6a1ce67"
LAST_UPDATED = "756594532db6"


def write_ini(directory: Path, url: str, name: str = "production.ini") -> Path:
    ini = directory / name
    ini.write_text(f"[app:main]\nuse = egg:pypi_web\nsqlalchemy.url = {url}\n", encoding="utf-8")
    return ini


def shown(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def test_upgrade_from_the_command_line_names_the_database_first(
    empty_database_url, tmp_path, monkeypatch
):
    ini = write_ini(tmp_path, empty_database_url)
    # Run from a directory with no alembic.ini, as an installed package is.
    result = subprocess.run(
        [PYPI_WEB_DB, "upgrade", str(ini)], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert database_revision(empty_database_url) == head_revision()
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"Migrating {shown(empty_database_url)} (sqlalchemy.url in {ini}) to {head_revision()}"
    )
    assert f"Running upgrade {AUDIT} -> {LAST_UPDATED}, packages.last_updated" in result.stderr
    assert result.stdout == f"Now at {head_revision()} (up to date).\n"


def test_upgrade_to_a_revision_then_downgrade(empty_database_url, tmp_path, capsys):
    ini = write_ini(tmp_path, empty_database_url)
    assert main(["upgrade", str(ini), LAST_UPDATED]) == 0
    assert database_revision(empty_database_url) == LAST_UPDATED
    assert capsys.readouterr().out == f"Now at {LAST_UPDATED} (behind).\n"
    assert main(["downgrade", str(ini), "-1"]) == 0
    assert database_revision(empty_database_url) == revision_before(LAST_UPDATED)
    err = capsys.readouterr().err
    assert f"Migrating {shown(empty_database_url)} (sqlalchemy.url in {ini}) to -1" in err
    assert main(["downgrade", empty_database_url, "base"]) == 0
    assert database_revision(empty_database_url) is None
    assert capsys.readouterr().out == "Now at base (empty).\n"


def test_current_and_history(empty_database_url, tmp_path, capsys):
    upgrade_at(empty_database_url, AUDIT)
    ini = write_ini(tmp_path, empty_database_url)
    assert main(["current", str(ini)]) == 0
    out = capsys.readouterr().out
    assert out == f"{shown(empty_database_url)} (sqlalchemy.url in {ini}):\n{AUDIT}\n"
    assert main(["history", str(ini)]) == 0
    history = capsys.readouterr().out.splitlines()
    assert history[0].startswith(f"{revision_before(head_revision())} -> {head_revision()} (head)")
    assert any(line.startswith(f"14123ea58e77 -> {AUDIT} (current),") for line in history)
    # Without a database: the revisions alone.
    assert main(["history"]) == 0
    assert "(current)" not in capsys.readouterr().out


def test_an_exported_url_does_not_move_the_upgrade(database_factory, tmp_path, monkeypatch, capsys):
    dev_url = database_factory.create("dev")
    prod_url = database_factory.create("prod")
    monkeypatch.setenv("PYPI_WEB_DATABASE_URL", prod_url)
    ini = write_ini(tmp_path, dev_url, "development.ini")
    assert main(["upgrade", str(ini)]) == 0
    assert database_revision(dev_url) == head_revision()
    assert database_revision(prod_url) is None
    assert f"Migrating {shown(dev_url)} (sqlalchemy.url in {ini})" in capsys.readouterr().err


def test_errors_name_the_command_and_the_reason(
    empty_database_url, unreachable_database_url, tmp_path, capsys, backend
):
    missing = tmp_path / "nowhere.ini"
    assert main(["upgrade", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"pypi-web-db upgrade: {missing}: no such configuration file\n"
    )
    no_url = tmp_path / "production.ini"
    no_url.write_text("[app:main]\nuse = egg:pypi_web\n", encoding="utf-8")
    assert main(["current", str(no_url)]) == 2
    assert "pypi-web-db current: " in capsys.readouterr().err
    ini = write_ini(tmp_path, empty_database_url, "staging.ini")
    assert main(["upgrade", str(ini), "nosuchrev"]) == 2
    assert "pypi-web-db upgrade: Can't locate revision identified by 'nosuchrev'" in (
        capsys.readouterr().err
    )
    assert database_revision(empty_database_url) is None
    reason = "unable to open database file" if backend == "sqlite" else "Connection refused"
    assert main(["upgrade", unreachable_database_url]) == 1
    err = capsys.readouterr().err
    assert "pypi-web-db upgrade: the database refused: " in err
    assert reason in err
