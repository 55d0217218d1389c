"""The packaging writer and the journal's rules, as upload and import use them."""

from __future__ import annotations

import datetime

from sqlalchemy import event, select

from pypi_web.models import JournalEntry, Release
from pypi_web.packaging import writer
from pypi_web.packaging.journal import JOURNALLED_NAMES, journal, refresh_last_updated

DAY = datetime.timedelta(days=1)
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


def test_releases_are_numbered_by_version_whatever_the_insertion_order(dbsession):
    package = writer.create_project(dbsession, "Writer.Test", created=START)
    assert package.normalized_name == "writer-test"
    writer.add_releases(dbsession, package, [{"version": "2.0"}, {"version": "1.0rc1"}])
    ids, orders = writer.add_releases(dbsession, package, [{"version": "1.0"}])
    assert orders == {"1.0rc1": 0, "1.0": 1, "2.0": 2}
    release = dbsession.get(Release, ids["1.0"])
    assert (release.canonical_version, release.is_prerelease) == ("1.0", False)
    assert dbsession.scalar(select(Release.is_prerelease).where(Release.version == "1.0rc1"))


def test_last_updated_is_the_newest_upload_else_release_else_creation(dbsession):
    package = writer.create_project(dbsession, "when-updated", created=START)
    refresh_last_updated(dbsession, package)
    assert package.last_updated == START
    ids, _ = writer.add_releases(dbsession, package, [{"version": "1.0", "created": START + DAY}])
    refresh_last_updated(dbsession, package)
    assert package.last_updated == START + DAY
    writer.add_files(
        dbsession,
        [
            {
                "release_id": ids["1.0"],
                "filename": "when_updated-1.0.tar.gz",
                "packagetype": "sdist",
                "python_version": "source",
                "size": 1,
                "sha256_digest": "0" * 64,
                "md5_digest": "0" * 32,
                "upload_time": START + 2 * DAY,
                "url": "https://files.example.invalid/when_updated-1.0.tar.gz",
            }
        ],
    )
    refresh_last_updated(dbsession, package)
    assert package.last_updated == START + 2 * DAY


def test_journal_moves_the_serial_and_names_the_project_for_the_cache(dbsession):
    package = writer.create_project(dbsession, "journalled")
    serial = journal(dbsession, package, "create")
    assert package.last_serial == serial
    assert dbsession.get(JournalEntry, serial).action == "create"
    assert "journalled" in dbsession.info[JOURNALLED_NAMES]


def test_a_new_newest_release_rewrites_no_other_release(dbsession, dbengine):
    """An upload's write stays one row however long the project's history."""
    package = writer.create_project(dbsession, "long-history")
    writer.add_releases(dbsession, package, [{"version": f"1.{n}"} for n in range(30)])
    updated_rows: list[int] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE RELEASES"):
            updated_rows.append(len(parameters) if executemany else 1)

    event.listen(dbengine, "before_cursor_execute", record)
    try:
        _, newest = writer.add_releases(dbsession, package, [{"version": "2.0"}])
        _, older = writer.add_releases(dbsession, package, [{"version": "0.5"}])
    finally:
        event.remove(dbengine, "before_cursor_execute", record)
    assert newest["2.0"] == 30
    assert older == {**{f"1.{n}": n + 1 for n in range(30)}, "0.5": 0, "2.0": 31}
    # The newest: its own row only. The oldest: every row moves up one.
    assert updated_rows == [1, 31]
