"""pypi-web-db adopt and status: behaviour, output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pypi_web.migrations import PROJECT_ROOT, head_revision, script_directory
from pypi_web.migrations.cli import main
from pypi_web.migrations.phases import CONTRACT, phase_of
from pypi_web.models import Base, get_engine

from .conftest import database_revision, execute, query, revisions_base_to_head, upgrade_at

PYPI_WEB_DB = str(Path(sys.executable).parent / "pypi-web-db")
RENAME = "14123ea58e77"
AUDIT = "49f8a6a1ce67"
LAST_UPDATED = "756594532db6"
LICENSE_LINKS = "fd53010c18f5"
SEARCH_DOCUMENTS = "dc9196d0d27e"  # a contract revision


@pytest.fixture(scope="module")
def head_schema_revisions(database_factory) -> list[str]:
    """The revisions, oldest first, whose schema is the head's (data-only ones follow one).

    A database made by create_all matches all of them; adopt stamps the first.
    """
    from pypi_web.migrations.schema import revision_schemas

    schemas = list(revision_schemas(database_factory.create("schemas")))
    head_schema = schemas[-1][1]
    run = []
    for revision, schema in reversed(schemas):
        if schema != head_schema:
            break
        run.insert(0, revision)
    return run


def newest_contract_revision() -> str:
    script = script_directory()
    return next(rev.revision for rev in script.walk_revisions() if phase_of(rev) == CONTRACT)


def serves_at_head() -> str:
    """SERVES for a database at head: code back to the newest contract revision's."""
    newest, head = newest_contract_revision(), head_revision()
    return head if newest == head else f"{newest}..{head}"


def create_all(url: str) -> None:
    engine = get_engine({"sqlalchemy.url": url})
    Base.metadata.create_all(engine)
    engine.dispose()


def write_ini(directory: Path, name: str, url: str) -> Path:
    ini = directory / name
    ini.write_text(f"[app:main]\nuse = egg:pypi_web\nsqlalchemy.url = {url}\n", encoding="utf-8")
    return ini


# ---------------------------------------------------------------- adopt


def test_adopt_a_create_all_database_at_head(
    empty_database_url, tmp_path, capsys, head_schema_revisions
):
    create_all(empty_database_url)
    ini = write_ini(tmp_path, "production.ini", empty_database_url)
    assert main(["adopt", str(ini)]) == 0
    out = capsys.readouterr().out
    # Before it changes anything, it names the database and where its URL came from.
    shown = sa.make_url(empty_database_url).render_as_string(hide_password=True)
    assert out.splitlines()[0] == f"Adopting {shown} (sqlalchemy.url in {ini})"
    first = head_schema_revisions[0]
    assert f"the schema matches revision {first}; stamped it." in out
    if len(head_schema_revisions) > 1:
        # Data-only revisions (the license one) keep the schema; adopt stamps
        # the first of the run so that `upgrade head` still applies them.
        assert f"revisions {', '.join(head_schema_revisions)} have the same schema" in out
        assert "Now bring it up to date: alembic upgrade head" in out
    assert database_revision(empty_database_url) == first
    upgrade_at(empty_database_url)
    assert database_revision(empty_database_url) == head_revision()


def test_adopt_a_database_shaped_like_an_old_revision(empty_database_url, capsys):
    # An older copy of the site: the schema of RENAME, without Alembic's tables.
    upgrade_at(empty_database_url, RENAME)
    execute(empty_database_url, "DROP TABLE alembic_version", "DROP TABLE alembic_version_lineage")
    assert main(["adopt", empty_database_url]) == 0
    assert f"matches revision {RENAME}; stamped it." in capsys.readouterr().out
    assert database_revision(empty_database_url) == RENAME
    upgrade_at(empty_database_url)
    assert database_revision(empty_database_url) == head_revision()


def test_adopt_refuses_a_hand_altered_database_and_prints_the_differences(
    empty_database_url, capsys, head_schema_revisions
):
    create_all(empty_database_url)
    execute(
        empty_database_url,
        "ALTER TABLE packages ADD COLUMN bogus INTEGER",
        "DROP INDEX ix_releases_created",
    )
    assert main(["adopt", empty_database_url]) == 1
    err = capsys.readouterr().err
    assert "the schema matches no revision; refusing to stamp it." in err
    assert f"Closest: {head_schema_revisions[0]}, with 2 difference(s):" in err
    assert "  - table packages: column bogus (INTEGER) is not expected" in err
    assert "  - table releases: index ix_releases_created missing" in err
    assert database_revision(empty_database_url) is None


def test_adopt_leaves_a_managed_database_alone(migrated_database_url, capsys):
    assert main(["adopt", migrated_database_url]) == 0
    assert "already managed by Alembic at revision" in capsys.readouterr().out


def test_adopt_names_a_missing_configuration_file(tmp_path, capsys):
    missing = tmp_path / "nowhere.ini"
    assert main(["adopt", str(missing)]) == 2
    assert f"pypi-web-db adopt: {missing}: no such configuration file" in capsys.readouterr().err


def test_adopt_restamps_a_database_at_an_unknown_revision(
    migrated_database_url, capsys, head_schema_revisions
):
    execute(migrated_database_url, "UPDATE alembic_version SET version_num = 'deadbeef0000'")
    assert main(["adopt", migrated_database_url]) == 0
    assert database_revision(migrated_database_url) == head_schema_revisions[0]
    capsys.readouterr()


# ---------------------------------------------------------------- status


def test_status_of_environments_up_to_date(
    migrated_database_url, database_factory, tmp_path, capsys
):
    ini = write_ini(tmp_path, "staging.ini", database_factory.create_migrated("staging"))
    assert main(["status", f"dev={migrated_database_url}", str(ini)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "ENVIRONMENT", "REVISION", "HEAD", "STATE", "EXPAND", "CONTRACT", "SERVES", "DRIFT",
        "CHECKSUMS",
    ]  # fmt: skip
    head = head_revision()
    # Code back to the last contract revision's can serve it (expand revisions since,
    # if any: the head itself may be the contract revision).
    up = ["up", "to", "date", "-", "-", serves_at_head(), "none", "ok"]
    assert out[1].split() == ["dev", head, head, *up]
    assert out[2].split() == ["staging", head, head, *up]


def test_status_after_the_pre_deploy_step_says_post_deploy_pending_and_passes(
    empty_database_url, tmp_path, capsys
):
    # The release before the newest contract revision, then today's pre-deploy step.
    chain = revisions_base_to_head()
    contract_at = chain.index(newest_contract_revision())
    upgrade_at(empty_database_url, chain[contract_at - 1])
    ini = write_ini(tmp_path, "production.ini", empty_database_url)
    assert main(["upgrade", str(ini)]) == 0
    assert database_revision(empty_database_url) == chain[contract_at - 1]
    assert capsys.readouterr().out.endswith("(post-deploy pending).\n")
    # The new code serves it: a deploy gated on status goes ahead.
    assert main(["status", f"prod={ini}"]) == 0
    out = capsys.readouterr().out
    held = chain[contract_at:]
    assert out.splitlines()[1].split()[3:7] == ["post-deploy", "pending", "-", str(len(held))]
    assert f"  pending {held[0]} (post-deploy): " in out
    assert "  post-deploy step, once no older release serves it: pypi-web-db contract" in out
    assert main(["contract", str(ini)]) == 0
    assert main(["status", f"prod={ini}"]) == 0
    prod_row = next(
        line for line in capsys.readouterr().out.splitlines() if line.startswith("prod ")
    )
    assert prod_row.split()[3:6] == ["up", "to", "date"]


def test_status_behind_lists_the_pending_revisions_and_fails(
    migrated_database_url, empty_database_url, capsys
):
    upgrade_at(empty_database_url, AUDIT)
    code = main(["status", f"prod={empty_database_url}", f"dev={migrated_database_url}"])
    assert code == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    pending = revisions_base_to_head()[revisions_base_to_head().index(AUDIT) + 1 :]
    held = pending[pending.index(SEARCH_DOCUMENTS) :]  # from the first contract revision on
    assert lines[1].split() == [
        "prod",
        AUDIT,
        head_revision(),
        "behind",
        str(len(pending) - len(held)),
        str(len(held)),
        f"{RENAME}..{AUDIT}",  # the rename is the contract revision below it
        "not",
        "checked",
        "ok",
    ]
    assert lines[2].split()[3:6] == ["up", "to", "date"]
    assert f"  pending {LAST_UPDATED} (pre-deploy): packages.last_updated: added" in out
    assert f"  pending {LICENSE_LINKS} (pre-deploy): packages.license:" in out
    assert f"  pending {SEARCH_DOCUMENTS} (post-deploy): packages search documents" in out
    assert "  post-deploy step, once no older release serves it: pypi-web-db contract" in out
    assert f"  serves the releases whose head is one of: {RENAME}, {AUDIT}" in out


def test_status_detects_drift_and_fails(migrated_database_url, capsys):
    execute(
        migrated_database_url,
        "ALTER TABLE packages ADD COLUMN hotfix TEXT",
        "DROP INDEX ix_packages_last_updated",
    )
    assert main(["status", f"prod={migrated_database_url}"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[-3:] == ["DRIFTED", "(2)", "ok"]
    assert "  drift: column packages.hotfix: not in the models" in out
    assert "  drift: index ix_packages_last_updated on packages: missing from the database" in out


def test_status_json(migrated_database_url, empty_database_url, capsys):
    create_all(empty_database_url)
    code = main(["status", "--json", f"ok={migrated_database_url}", f"old={empty_database_url}"])
    assert code == 1
    envs = {e["name"]: e for e in json.loads(capsys.readouterr().out)["environments"]}
    assert envs["ok"]["state"] == "up_to_date"
    assert envs["ok"]["drifted"] is False
    assert envs["ok"]["ok"] is True
    assert envs["ok"]["database_revision"] == envs["ok"]["code_head"] == head_revision()
    assert envs["ok"]["pending_expand"] == envs["ok"]["pending_contract"] == []
    assert envs["ok"]["serves_code_heads"][-1] == head_revision()
    assert envs["old"]["state"] == "unversioned"
    assert envs["old"]["database_revision"] is None
    assert envs["old"]["drifted"] is None
    assert envs["old"]["ok"] is False


def test_status_reports_an_unreachable_database(capsys):
    url = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"
    assert main(["status", f"gone={url}"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[:4] == ["gone", "-", "-", "ERROR"]
    assert "error: cannot reach the database:" in out


def test_status_command_line_exit_codes(migrated_database_url, empty_database_url):
    ok = subprocess.run(
        [PYPI_WEB_DB, "status", migrated_database_url], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    behind = subprocess.run(
        [PYPI_WEB_DB, "status", migrated_database_url, empty_database_url],
        capture_output=True,
        text=True,
    )
    assert behind.returncode == 1
    assert "empty" in behind.stdout
    usage = subprocess.run([PYPI_WEB_DB, "status"], capture_output=True, text=True)
    assert usage.returncode == 2


@pytest.mark.parametrize("spec", ["nonexistent.ini", "x=nonexistent.ini"])
def test_status_names_a_missing_ini(spec, capsys):
    assert main(["status", spec]) == 1
    assert "error: nonexistent.ini: no such configuration file" in capsys.readouterr().out


def test_adopt_from_the_command_line(empty_database_url, head_schema_revisions):
    create_all(empty_database_url)
    result = subprocess.run(
        [PYPI_WEB_DB, "adopt", empty_database_url], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert query(empty_database_url, "SELECT version_num FROM alembic_version") == [
        (head_schema_revisions[0],)
    ]


def test_status_keeps_each_environment_to_its_own_ini(
    migrated_database_url, empty_database_url, tmp_path, capsys, monkeypatch
):
    """With production's URL exported, development.ini still names its own database."""
    monkeypatch.setenv("PYPI_WEB_DATABASE_URL", empty_database_url)
    dev = write_ini(tmp_path, "development.ini", migrated_database_url)
    prod = tmp_path / "production.ini"
    prod.write_text("[app:main]\nuse = egg:pypi_web\n", encoding="utf-8")
    assert main(["status", f"dev={dev}", f"prod={prod}"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:4] == ["dev", head_revision(), head_revision(), "up"]
    assert out[2].split()[:2] == ["prod", "-"]
    assert "empty" in out[2]


def test_status_says_when_two_environments_name_the_same_database(
    migrated_database_url, tmp_path, capsys
):
    # The same database, spelled two ways (ini file and URL; a relative SQLite path).
    dev = write_ini(tmp_path, "development.ini", migrated_database_url)
    url = sa.make_url(migrated_database_url)
    if url.get_backend_name() == "sqlite":
        other = f"sqlite:///{os.path.relpath(url.database)}"
    else:
        other = url.set(host="localhost", port=5432).render_as_string(False)
    assert main(["status", f"dev={dev}", f"prod={other}"]) == 1
    out = capsys.readouterr().out
    # Both look healthy on their own: the table says nothing wrong but the notes do.
    assert "  same database as prod: two environments must not share one" in out
    assert "  same database as dev: two environments must not share one" in out
    assert main(["status", "--json", f"dev={dev}", f"prod={other}"]) == 1
    envs = {e["name"]: e for e in json.loads(capsys.readouterr().out)["environments"]}
    assert envs["dev"]["same_database_as"] == ["prod"]
    assert envs["prod"]["same_database_as"] == ["dev"]
    assert envs["dev"]["ok"] is False
