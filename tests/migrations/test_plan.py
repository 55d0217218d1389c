"""pypi-web-db plan: the SQL of each pending revision and what it does to the live database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pypi_web.migrations import head_revision
from pypi_web.migrations.cli import main
from pypi_web.migrations.locks import PostgresCatalog, Transaction
from pypi_web.models import Base, get_engine

from .conftest import database_revision, downgrade, execute, query
from .test_history import schema_of

PYPI_WEB_DB = str(Path(sys.executable).parent / "pypi-web-db")
AUDIT = "49f8a6a1ce67"
LAST_UPDATED = "756594532db6"


def write_ini(directory: Path, url: str) -> Path:
    ini = directory / "production.ini"
    ini.write_text(f"[app:main]\nuse = egg:pypi_web\nsqlalchemy.url = {url}\n", encoding="utf-8")
    return ini


def test_the_plan_of_a_database_with_real_data(data_database_url, tmp_path, backend):
    url = data_database_url
    downgrade(url, AUDIT)
    before = schema_of(url)
    ini = write_ini(tmp_path, url)
    result = subprocess.run([PYPI_WEB_DB, "plan", str(ini)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    shown = sa.make_url(url).render_as_string(hide_password=True)
    assert out.startswith(f"Plan for {shown} (sqlalchemy.url in {ini})\nat {AUDIT}, ")
    assert f"\n== {LAST_UPDATED}  packages.last_updated: added, backfilled, then NOT NULL\n" in out
    assert f"== {head_revision()}" in out
    section = out.split(f"== {LAST_UPDATED}")[1].split("\n== ")[0]
    if backend == "sqlite":
        assert "holding the database's write lock, until it commits" in out
        # Batch mode's rebuild, spelled out, with the rows it copies.
        assert "CREATE TABLE _alembic_tmp_packages (" in section
        assert "last_updated DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL" in section
        assert "  -- copies every row of packages (96 rows) into the new shape" in section
        assert "ALTER TABLE _alembic_tmp_packages RENAME TO packages;" in section
    else:
        assert "with lock_timeout 4s and statement_timeout 5min" in out
        lines = section.splitlines()
        at = lines.index("ALTER TABLE packages ALTER COLUMN last_updated SET NOT NULL;")
        assert lines[at + 1] == "  -- ACCESS EXCLUSIVE on packages: reads and writes wait"
        assert lines[at + 2].startswith("  -- scans every row of packages (≈96 rows, ")
        assert lines[at + 3].startswith("  -- ! adding-not-nullable-field: ")
        assert "-- ! require-concurrent-index-creation: " in section
        assert (
            "-- held until this revision commits: ACCESS EXCLUSIVE on packages (reads and "
            "writes wait)"
        ) in section
    # Nothing was changed.
    assert database_revision(url) == AUDIT
    assert schema_of(url) == before


def test_a_database_with_nothing_to_plan_or_that_cannot_be_planned(
    migrated_database_url, empty_database_url, tmp_path, capsys
):
    assert main(["plan", migrated_database_url]) == 0
    shown = sa.make_url(migrated_database_url).render_as_string(hide_password=True)
    assert capsys.readouterr().out == (
        f"{shown} (given on the command line): up to date at {head_revision()}: nothing pending.\n"
    )
    engine = get_engine({"sqlalchemy.url": empty_database_url})
    Base.metadata.create_all(engine)
    engine.dispose()
    assert main(["plan", empty_database_url]) == 1
    assert "tables but no Alembic revision: adopt it first (pypi-web-db adopt)" in (
        capsys.readouterr().err
    )
    execute(migrated_database_url, "UPDATE alembic_version SET version_num = 'deadbeef0000'")
    assert main(["plan", migrated_database_url]) == 1
    assert "at revision deadbeef0000, which this code does not know" in capsys.readouterr().err
    assert main(["plan", str(tmp_path / "none.ini")]) == 2
    assert capsys.readouterr().err.endswith("none.ini: no such configuration file\n")


def test_an_empty_database_is_planned_from_the_base(empty_database_url, capsys):
    assert main(["plan", empty_database_url]) == 0
    out = capsys.readouterr().out
    assert "at base (empty), " in out
    assert "CREATE TABLE alembic_version" in out
    assert "CREATE TABLE packages (" in out
    assert query(empty_database_url, "SELECT 1") == [(1,)]
    assert database_revision(empty_database_url) is None


def test_an_unreachable_database(capsys, unreachable_database_url):
    assert main(["plan", unreachable_database_url]) == 1
    assert capsys.readouterr().err.startswith("pypi-web-db plan: the database refused: ")


# ------------------------------------------------ Postgres: squawk's rules, against the catalog


@pytest.fixture
def catalog(migrated_postgres_url):
    engine = sa.create_engine(migrated_postgres_url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        yield PostgresCatalog(connection)
    engine.dispose()


def one(catalog, sql: str, in_transaction: bool = True):
    transaction = Transaction(catalog)
    transaction.in_transaction = in_transaction
    [finding] = transaction.analyse(sql)
    return finding


def test_a_volatile_default_rewrites_and_a_stable_one_does_not(catalog):
    volatile = one(catalog, "ALTER TABLE packages ADD COLUMN token uuid DEFAULT gen_random_uuid()")
    assert volatile.locks == {"packages": "ACCESS EXCLUSIVE"}
    assert volatile.effects[0].startswith("rewrites packages (≈0 rows, 0 MB) and its indexes")
    assert volatile.advice[0].startswith("adding-field-with-default:")
    stable = one(catalog, "ALTER TABLE packages ADD COLUMN seen timestamptz DEFAULT now()")
    assert stable.effects == ["a catalog change: brief, once it has the lock (no rewrite)"]
    assert stable.advice == []
    serial = one(catalog, "ALTER TABLE packages ADD COLUMN n serial")
    assert "rewrites packages" in serial.effects[0]
    required = one(catalog, "ALTER TABLE packages ADD COLUMN n integer NOT NULL")
    assert required.advice[0].startswith("adding-required-field:")


def test_a_type_change_rewrites_unless_postgres_needs_no_row(catalog):
    longer = one(catalog, "ALTER TABLE packages ALTER COLUMN name TYPE VARCHAR(400)")
    assert longer.effects == [
        "a catalog change (character varying(200) to varchar(400) needs no rewrite): brief"
    ]
    to_text = one(catalog, "ALTER TABLE packages ALTER COLUMN name TYPE TEXT")
    assert "needs no rewrite" in to_text.effects[0]
    shorter = one(catalog, "ALTER TABLE packages ALTER COLUMN name TYPE VARCHAR(100)")
    assert shorter.effects[0].startswith("rewrites packages (≈0 rows, 0 MB) and rebuilds")
    assert shorter.advice[0].startswith("changing-column-type:")
    cast = one(catalog, "ALTER TABLE packages ALTER COLUMN summary TYPE integer USING 0")
    assert "rewrites packages" in cast.effects[0]


def test_indexes_constraints_and_renames(catalog):
    index = one(catalog, "CREATE INDEX ix_a ON releases (version)")
    assert index.locks == {"releases": "SHARE"}
    assert index.advice[0].startswith("require-concurrent-index-creation:")
    concurrent = one(catalog, "CREATE INDEX CONCURRENTLY ix_a ON releases (version)", False)
    assert concurrent.locks == {"releases": "SHARE UPDATE EXCLUSIVE"}
    assert concurrent.advice == []
    in_transaction = one(catalog, "CREATE INDEX CONCURRENTLY ix_a ON releases (version)")
    assert in_transaction.advice[0].startswith("ban-concurrent-index-creation-in-transaction:")
    dropped = one(catalog, "DROP INDEX ix_packages_created")
    assert dropped.locks == {"packages": "ACCESS EXCLUSIVE"}
    assert dropped.advice[0].startswith("require-concurrent-index-deletion:")
    add_fk = "ALTER TABLE releases ADD CONSTRAINT fk_x FOREIGN KEY (package_id) REFERENCES"
    fk = one(catalog, f"{add_fk} packages (id)")
    assert fk.locks == {"releases": "SHARE ROW EXCLUSIVE", "packages": "SHARE ROW EXCLUSIVE"}
    assert fk.advice[0].startswith("adding-foreign-key-constraint:")
    not_valid = one(catalog, f"{add_fk} packages (id) NOT VALID")
    assert not_valid.effects == [] and not_valid.advice == []
    check = one(catalog, "ALTER TABLE releases ADD CONSTRAINT ck_x CHECK (length(version) > 0)")
    assert check.advice[0].startswith("constraint-missing-not-valid:")
    validate = one(catalog, "ALTER TABLE releases VALIDATE CONSTRAINT ck_x")
    assert validate.locks == {"releases": "SHARE UPDATE EXCLUSIVE"}
    unique = one(catalog, "ALTER TABLE releases ADD CONSTRAINT uq_x UNIQUE (version)")
    assert unique.advice[0].startswith("disallowed-unique-constraint:")
    rename = one(catalog, "ALTER TABLE packages RENAME COLUMN summary TO tagline")
    assert rename.locks == {"packages": "ACCESS EXCLUSIVE"}
    assert rename.advice[0].startswith("renaming-column:")


def test_locks_are_held_until_commit_and_new_tables_are_nobody_elses(catalog):
    transaction = Transaction(catalog)
    for sql in (
        "BEGIN",
        "CREATE TABLE fresh (id integer PRIMARY KEY, package_id integer REFERENCES packages (id))",
        "CREATE INDEX ix_fresh ON fresh (package_id)",
        "ALTER TABLE packages ADD COLUMN flag boolean",
        "UPDATE packages SET flag = false",
        "UPDATE alembic_version SET version_num = 'x'",
    ):
        findings = transaction.analyse(sql)
    assert findings[0].locks == {}  # the bookkeeping table is nobody's concern
    assert findings[0].effects == []
    assert transaction.held == {"packages": "ACCESS EXCLUSIVE"}
    index = Transaction(catalog)
    index.analyse("BEGIN")
    index.analyse("CREATE TABLE fresh (id integer PRIMARY KEY)")
    [finding] = index.analyse("CREATE INDEX ix_fresh ON fresh (id)")
    assert finding.locks == {} and finding.advice == []
