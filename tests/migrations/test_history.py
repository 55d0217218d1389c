"""The revision history: one base, a clean round trip, status' drift check, no row lost.

One head, base to head, the models matching the migrations and every model
registered are pytest-alembic's tests (test_alembic_kit.py).
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from pypi_web.migrations import PROJECT_ROOT, head_revision, migration_engine, script_directory
from pypi_web.migrations.cli import drift
from pypi_web.migrations.schema import diff, snapshot
from tests.conftest import upgrade

from .conftest import (
    database_revision,
    downgrade,
    execute,
    query,
    revision_before,
    revisions_base_to_head,
    stamp,
    table_keys,
    upgrade_at,
)

LAST_UPDATED = "756594532db6"
LICENSES = "fd53010c18f5"
SEARCH_DOCUMENTS = "dc9196d0d27e"


def schema_of(url: str) -> dict:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return snapshot(connection)
    finally:
        engine.dispose()


def test_history_is_linear_from_one_base():
    bases = script_directory().get_bases()
    assert bases == ["a9a83eac6085"]
    assert revisions_base_to_head()[-1] == head_revision()


def test_downgrade_to_base_and_up_again_leaves_an_identical_schema(migrated_database_url):
    at_head = schema_of(migrated_database_url)
    downgrade(migrated_database_url, "base")
    assert schema_of(migrated_database_url) == {}
    assert database_revision(migrated_database_url) is None
    upgrade(migrated_database_url)
    assert diff(schema_of(migrated_database_url), at_head) == []
    assert schema_of(migrated_database_url) == at_head


def test_status_drift_names_what_the_models_lack(migrated_database_url):
    # `pypi-web-db status`'s drift check: a column the migrations do not create is reported.
    engine = migration_engine(migrated_database_url)
    with engine.connect() as connection:
        connection.execute(sa.text("ALTER TABLE packages ADD COLUMN stray INTEGER"))
        assert drift(connection) == ["column packages.stray: not in the models"]
        connection.rollback()
    engine.dispose()


def test_each_revision_keeps_every_row_of_real_data(data_database_url):
    """Each revision, applied to the top-100 data at the revision before it, loses no row."""
    url = data_database_url
    revisions = revisions_base_to_head()
    at_head = table_keys(url)
    assert len(at_head["packages"]) == 96
    homepages = dict(query(url, "SELECT id, homepage_url FROM packages"))
    # Walk down the history; at each step go back up one revision and compare.
    for revision in reversed(revisions[1:]):
        before = revision_before(revision)
        downgrade(url, before)
        assert database_revision(url) == before
        keys_before = table_keys(url)
        upgrade_at(url, revision)
        assert database_revision(url) == revision
        keys_after = table_keys(url)
        for table, keys in keys_before.items():
            assert table in keys_after, f"{revision} dropped table {table}"
            lost = keys - keys_after[table]
            assert not lost, f"{revision} lost {len(lost)} row(s) of {table}"
        downgrade(url, before)
    # Every revision's downgrade kept the rows too: we are at the baseline
    # with the data; the whole history up again restores every row.
    assert database_revision(url) == revisions[0]
    upgrade(url)
    after = table_keys(url)
    for table, keys in at_head.items():
        assert keys <= after[table], f"the round trip lost rows of {table}"
    # The renamed column kept its values through rename down and up.
    assert dict(query(url, "SELECT id, homepage_url FROM packages")) == homepages


def _as_utc(value) -> datetime.datetime:
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


def test_last_updated_is_backfilled_from_the_newest_upload(data_database_url):
    url = data_database_url
    downgrade(url, revision_before(LAST_UPDATED))
    # A package with a release but no files, and one with no release at all.
    execute(
        url,
        "INSERT INTO packages (name, normalized_name, created) "
        "VALUES ('nofiles', 'nofiles', '2001-01-01 00:00:00')",
        "INSERT INTO releases (package_id, version, canonical_version, created) "
        "SELECT id, '1.0', '1.0', '2002-02-02 00:00:00' FROM packages WHERE name = 'nofiles'",
        "INSERT INTO packages (name, normalized_name, created) "
        "VALUES ('noreleases', 'noreleases', '2003-03-03 00:00:00')",
    )
    upgrade_at(url, LAST_UPDATED)
    rows = query(
        url,
        """
        SELECT p.name, p.last_updated, MAX(f.upload_time)
          FROM packages p
          LEFT JOIN releases r ON r.package_id = p.id
          LEFT JOIN release_files f ON f.release_id = r.id
         GROUP BY p.name, p.last_updated
        """,
    )
    assert len(rows) == 98
    for name, last_updated, newest_upload in rows:
        assert last_updated is not None, name
        if name == "nofiles":
            assert _as_utc(last_updated) == datetime.datetime(2002, 2, 2, tzinfo=datetime.UTC)
        elif name == "noreleases":
            assert _as_utc(last_updated) == datetime.datetime(2003, 3, 3, tzinfo=datetime.UTC)
        else:
            assert _as_utc(last_updated) == _as_utc(newest_upload), name
    # NOT NULL with a server default: code that does not know the column can still insert.
    execute(url, "INSERT INTO packages (name, normalized_name) VALUES ('oldcode', 'oldcode')")
    [(value,)] = query(url, "SELECT last_updated FROM packages WHERE name = 'oldcode'")
    assert value is not None


LINKS = "SELECT package_id, classifier_id FROM package_classifiers"
ADDED = [
    ("cffi", "License :: OSI Approved :: MIT License"),
    ("functools32", "License :: OSI Approved :: Python Software Foundation License"),
    ("pandas", "License :: OSI Approved :: BSD License"),
    ("protobuf", "License :: OSI Approved :: BSD License"),
    ("pycparser", "License :: OSI Approved :: BSD License"),
]


def _run_license_upgrade_directly(url: str, batch_size: int) -> None:
    """The revision's upgrade() with another batch size, in one committed transaction."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    module = script_directory().get_revision(LICENSES).module
    engine = migration_engine(url)
    original = module.BATCH_SIZE
    module.BATCH_SIZE = batch_size
    try:
        with (
            engine.begin() as connection,
            Operations.context(MigrationContext.configure(connection)),
        ):
            module.upgrade()
    finally:
        module.BATCH_SIZE = original
        engine.dispose()


def test_license_classifiers_are_linked_in_batches_idempotently_and_reversibly(
    data_database_url,
):
    url = data_database_url
    downgrade(url, revision_before(LICENSES))
    links_before = set(query(url, LINKS))
    upgrade_at(url, LICENSES)
    links_after = set(query(url, LINKS))
    journal = query(
        url, "SELECT package_name, action FROM journals WHERE action LIKE 'add classifier %'"
    )
    prefix, marker = "add classifier ", f" (inferred from the license text by migration {LICENSES})"
    assert all(action.startswith(prefix) and action.endswith(marker) for _, action in journal)
    assert sorted((n, a[len(prefix) : -len(marker)]) for n, a in journal) == ADDED
    assert len(links_after - links_before) == len(ADDED)
    # Each change got a serial, as any change to a project does.
    serials = dict(query(url, "SELECT name, last_serial FROM packages"))
    newest = dict(query(url, "SELECT package_name, MAX(id) FROM journals GROUP BY package_name"))
    for name, _ in ADDED:
        assert serials[name] == newest[name]

    # Idempotent: running it again adds nothing.
    _run_license_upgrade_directly(url, batch_size=500)
    assert set(query(url, LINKS)) == links_after
    assert len(query(url, "SELECT id FROM journals WHERE action LIKE 'add classifier %'")) == 5

    # Precise reversal: exactly the links it added go, with their journal entries.
    downgrade(url, revision_before(LICENSES))
    assert set(query(url, LINKS)) == links_before
    assert query(url, "SELECT COUNT(*) FROM journals WHERE action LIKE 'add classifier %'") == [
        (0,)
    ]

    # Batches of 2 and of 1 package reach the same result as one batch.
    for batch_size in (2, 1):
        _run_license_upgrade_directly(url, batch_size)
        assert set(query(url, LINKS)) == links_after
        stamp(url, LICENSES)
        downgrade(url, revision_before(LICENSES))
        assert set(query(url, LINKS)) == links_before
    upgrade_at(url, "head")


def test_license_text_normalisation():
    module = script_directory().get_revision(LICENSES).module
    mit = ("License :: OSI Approved :: MIT License",)
    assert module.classifiers_for("MIT") == mit
    assert module.classifiers_for("The MIT License") == mit
    assert module.classifiers_for("MIT License\n\nCopyright (c) 2020 Someone") == mit
    assert module.classifiers_for("  mit licence ") == mit
    assert module.classifiers_for("Apache License, Version 2.0") == (
        "License :: OSI Approved :: Apache Software License",
    )
    assert module.classifiers_for("Apache 2.0") == (
        "License :: OSI Approved :: Apache Software License",
    )
    assert module.classifiers_for("GPLv3") == (
        "License :: OSI Approved :: GNU General Public License v3 (GPLv3)",
    )
    assert module.classifiers_for("BSD-3-Clause") == ("License :: OSI Approved :: BSD License",)
    assert len(module.classifiers_for("MIT OR Apache-2.0")) == 2
    assert module.classifiers_for("Proprietary") == ()
    assert module.classifiers_for("") == ()
    assert module.classifiers_for(None) == ()


def _search(url: str, words: str) -> list[str]:
    from sqlalchemy.orm import Session

    from pypi_web.search.services import parse_query, search

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with Session(engine) as session:
            return [hit.name for hit in search(session, parse_query(words), []).hits]
    finally:
        engine.dispose()


def _search_index_table(url: str) -> str | None:
    """Postgres: the table ix_packages_search_document is on (None when there is none)."""
    rows = query(
        url, "SELECT tablename FROM pg_indexes WHERE indexname = 'ix_packages_search_document'"
    )
    return rows[0][0] if rows else None


def test_search_documents_are_stored_for_existing_packages_and_reversibly(data_database_url):
    url = data_database_url
    postgres = url.startswith("postgresql")
    downgrade(url, revision_before(SEARCH_DOCUMENTS))
    if postgres:
        # b1f1174d23a3's expression index is back, and nothing of the revision is left.
        assert _search_index_table(url) == "packages"
        assert query(url, "SELECT to_regclass('packages_search')") == [(None,)]
        functions = "SELECT count(*) FROM pg_proc WHERE proname = 'packages_search_upsert'"
        assert query(url, functions) == [(0,)]
        old_search = (
            "SELECT name FROM packages WHERE to_tsvector('english'::regconfig, "
            "coalesce(name, '') || ' ' || replace(normalized_name, '-', ' ') || ' ' || "
            "coalesce(summary, '') || ' ' || coalesce(keywords, '')) "
            "@@ plainto_tsquery('english', 'humans')"
        )
        assert query(url, old_search) == [("requests",)]
    # Written at the revision before: the backfill must find it.
    execute(
        url,
        "INSERT INTO packages (name, normalized_name, summary, keywords) "
        "VALUES ('numbat', 'numbat', 'Termite eater', 'marsupial')",
    )

    upgrade_at(url, SEARCH_DOCUMENTS)
    if postgres:
        assert _search_index_table(url) == "packages_search"
        assert query(url, "SELECT count(*) FROM packages_search") == query(
            url, "SELECT count(*) FROM packages"
        )
    assert _search(url, "humans") == ["requests"]
    assert _search(url, "termite marsupial") == ["numbat"]
    # Kept by the trigger from now on.
    execute(url, "UPDATE packages SET summary = 'Ant eater' WHERE name = 'numbat'")
    assert _search(url, "termite") == []
    assert _search(url, "ant eater") == ["numbat"]

    downgrade(url, revision_before(SEARCH_DOCUMENTS))
    if postgres:
        assert _search_index_table(url) == "packages"
        assert query(url, "SELECT to_regclass('packages_search')") == [(None,)]
    upgrade_at(url)
    assert _search(url, "ant eater") == ["numbat"]


def test_offline_sql_for_postgres_has_the_ddl():
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "alembic"),
            "-x",
            "db_url=postgresql+psycopg://offline@db.invalid/pypi_web",
            "upgrade",
            "head",
            "--sql",
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYPI_WEB_INI": ""},
    )
    assert result.returncode == 0, result.stderr
    sql = result.stdout
    assert "CREATE TABLE alembic_version" in sql
    assert "CREATE TABLE packages (" in sql
    assert "ALTER TABLE packages ADD COLUMN homepage_url TEXT;" in sql
    assert "ALTER TABLE packages DROP COLUMN home_page;" in sql
    assert "CREATE TABLE audit_events (" in sql
    assert "ALTER TABLE packages ADD COLUMN last_updated TIMESTAMP WITH TIME ZONE;" in sql
    assert "ALTER TABLE packages ALTER COLUMN last_updated SET NOT NULL;" in sql
    assert "CREATE INDEX ix_packages_last_updated ON packages (last_updated);" in sql
    assert "-- fd53010c18f5 is a data migration" in sql
    # A transaction per revision, each stamping its own version.
    assert sql.count("BEGIN;") == sql.count("COMMIT;") >= len(revisions_base_to_head())
    assert f"UPDATE alembic_version SET version_num='{head_revision()}'" in sql
