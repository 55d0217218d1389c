"""alembic/env.py as its users meet it: the `alembic` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from pypi_web.migrations import PROJECT_ROOT, SCRIPT_LOCATION, head_revision, script_directory

from .conftest import alembic_ini_for, database_revision, make_script_location, upgrade_at

ALEMBIC = str(Path(sys.executable).parent / "alembic")
AUDIT = "49f8a6a1ce67"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ALEMBIC, *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYPI_WEB_INI": "", **(env or {})},
    )


def app_ini(directory: Path, url: str) -> Path:
    ini = directory / "staging.ini"
    ini.write_text(f"[app:main]\nuse = egg:pypi_web\nsqlalchemy.url = {url}\n", encoding="utf-8")
    return ini


def test_the_url_comes_from_the_ini_named_by_the_environment(empty_database_url, tmp_path):
    ini = app_ini(tmp_path, empty_database_url)
    result = run("upgrade", "head", env={"PYPI_WEB_INI": str(ini)})
    assert result.returncode == 0, result.stderr
    assert database_revision(empty_database_url) == head_revision()


def test_the_url_comes_from_the_ini_named_by_an_option(empty_database_url, tmp_path):
    ini = app_ini(tmp_path, empty_database_url)
    result = run("-x", f"ini={ini}", "upgrade", AUDIT)
    assert result.returncode == 0, result.stderr
    assert database_revision(empty_database_url) == AUDIT


def test_a_missing_ini_is_named(tmp_path):
    missing = tmp_path / "nope.ini"
    result = run("-x", f"ini={missing}", "current")
    assert result.returncode != 0
    assert f"alembic: {missing}: no such configuration file" in result.stderr


def test_autogenerate_writes_nothing_when_the_models_match(migrated_database_url, tmp_path):
    location = make_script_location(tmp_path, {})
    ini = alembic_ini_for(location, tmp_path)
    before = sorted((location / "versions").glob("*.py"))
    result = run(
        "-c", str(ini), "-x", f"db_url={migrated_database_url}", "revision", "--autogenerate",
        "-m", "nothing",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "No changes in schema detected; no revision written." in result.stderr
    assert sorted((location / "versions").glob("*.py")) == before


def test_autogenerate_writes_a_formatted_candidate(empty_database_url, tmp_path):
    # A database at the revision before last_updated: the models have more.
    upgrade_at(empty_database_url, AUDIT)
    location = make_script_location(tmp_path, {})
    # Only the revisions up to AUDIT, so the new one has a single parent.
    script = script_directory()
    keep = {r.revision for r in script.iterate_revisions(AUDIT, "base")}
    for revision in script.walk_revisions():
        if revision.revision not in keep:
            (location / "versions" / Path(revision.path).name).unlink()
    ini = alembic_ini_for(location, tmp_path)
    result = run(
        "-c", str(ini), "-x", f"db_url={empty_database_url}", "revision", "--autogenerate",
        "-m", "candidate",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [candidate] = (location / "versions").glob("*_candidate.py")
    text = candidate.read_text()
    assert "last_updated" in text
    assert "ix_packages_last_updated" in text
    assert "batch_alter_table" in text  # batch mode: SQLite can run it too
    assert "sa.DateTime(timezone=True)" in text  # UTCDateTime rendered without app imports
    assert "pypi_web" not in text
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", str(candidate)],
        capture_output=True,
        text=True,
    )
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


# ------------------------------------------- each environment is its own ini file's database


def project_copy(directory: Path, dev_url: str) -> Path:
    """alembic.ini and a development.ini naming ``dev_url``, as in a checkout."""
    alembic_ini_for(SCRIPT_LOCATION, directory)
    development = (PROJECT_ROOT / "development.ini").read_text(encoding="utf-8")
    development = development.replace("sqlite:///%(here)s/pypi_web.sqlite", dev_url)
    assert dev_url in development
    (directory / "development.ini").write_text(development, encoding="utf-8")
    return directory


def test_an_exported_url_never_sends_a_plain_upgrade_elsewhere(database_factory, tmp_path):
    """The deploy shell exports production's URL; `alembic upgrade head` is development's."""
    dev_url = database_factory.create("dev")
    prod_url = database_factory.create("prod")
    checkout = project_copy(tmp_path, dev_url)
    result = subprocess.run(
        [ALEMBIC, "upgrade", "head"],
        capture_output=True,
        text=True,
        cwd=checkout,
        env={**os.environ, "PYPI_WEB_INI": "", "PYPI_WEB_DATABASE_URL": prod_url},
    )
    assert result.returncode == 0, result.stderr
    assert database_revision(dev_url) == head_revision()
    assert database_revision(prod_url) is None
    development = checkout / "development.ini"
    # It says which database it is about to change, and that the variable was ignored.
    assert (
        f"PYPI_WEB_DATABASE_URL is set but ignored: {development} states its own sqlalchemy.url"
        in result.stderr
    )
    shown = sa.make_url(dev_url).render_as_string(hide_password=True)
    assert f"Migrating {shown} (sqlalchemy.url in {development}) to {head_revision()}" in (
        result.stderr
    )


def test_a_file_that_leaves_the_url_to_the_environment_takes_it(database_factory, tmp_path):
    prod_url = database_factory.create("prod")
    production = tmp_path / "production.ini"
    production.write_text(
        "[app:main]\nuse = egg:pypi_web\n# sqlalchemy.url: from PYPI_WEB_DATABASE_URL\n",
        encoding="utf-8",
    )
    result = run(
        "-x", f"ini={production}", "upgrade", AUDIT, env={"PYPI_WEB_DATABASE_URL": prod_url}
    )
    assert result.returncode == 0, result.stderr
    assert database_revision(prod_url) == AUDIT
    shown = sa.make_url(prod_url).render_as_string(hide_password=True)
    assert (
        f"Migrating {shown} (PYPI_WEB_DATABASE_URL, as {production} leaves sqlalchemy.url "
        f"to the environment) to {AUDIT}"
    ) in result.stderr
    # A command that only reads says nothing of the kind.
    current = run("-x", f"ini={production}", "current", env={"PYPI_WEB_DATABASE_URL": prod_url})
    assert current.returncode == 0, current.stderr
    assert "Migrating" not in current.stderr
