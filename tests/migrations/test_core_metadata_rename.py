"""The rename of metadata_sha256_digest to core_metadata_sha256_digest, in two releases.

Release A (expand): the release before A writes only the old column; what it
wrote before A's revision (the backfill) and while A's revision is applied and
it still serves (the trigger) must reach A's readers: the Simple API's
"core-metadata". Release B (contract) drops the old column keeping every
value; its downgrade gives the old column back, filled, with the trigger.
"""

from __future__ import annotations

import webtest

from pypi_web import main

from .conftest import downgrade, execute, query, upgrade_at

CONTRACT = "8b41f6c2d905"
EXPAND = "5e3c0a1d2b47"
BEFORE = "55614669c419"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def insert_as_release_before(url: str, filename: str, digest: str) -> None:
    """A wheel row as the release before A writes it: the old column only."""
    execute(
        url,
        "INSERT INTO packages (name, normalized_name) SELECT 'old-writer', 'old-writer'"
        " WHERE NOT EXISTS (SELECT 1 FROM packages WHERE normalized_name = 'old-writer')",
        "INSERT INTO releases (package_id, version, canonical_version)"
        " SELECT id, '1.0', '1.0' FROM packages WHERE normalized_name = 'old-writer'"
        " AND NOT EXISTS (SELECT 1 FROM releases WHERE version = '1.0')",
        "INSERT INTO release_files (release_id, filename, packagetype, size, sha256_digest,"
        " url, metadata_sha256_digest)"
        f" SELECT id, '{filename}', 'bdist_wheel', 1, '{'0' * 64}',"
        f" 'https://example.invalid/{filename}', '{digest}' FROM releases WHERE version = '1.0'",
    )


def test_what_the_release_before_writes_reaches_the_new_column(
    empty_database_url, app_settings_for
):
    url = empty_database_url
    upgrade_at(url, BEFORE)
    insert_as_release_before(url, "old_writer-1.0-py3-none-any.whl", "a" * 64)
    upgrade_at(url, EXPAND)
    # While A's revision is applied, the release before may still be serving uploads.
    insert_as_release_before(url, "old_writer-1.0-py2-none-any.whl", "b" * 64)
    upgrade_at(url)  # both deploy steps: today's code serves what the post-deploy step left
    engine, settings = app_settings_for(url)
    app = webtest.TestApp(main({}, dbengine=engine, **settings))
    detail = app.get("/simple/old-writer/", headers={"Accept": SIMPLE_JSON}).json
    assert {f["filename"]: f["core-metadata"] for f in detail["files"]} == {
        "old_writer-1.0-py3-none-any.whl": {"sha256": "a" * 64},
        "old_writer-1.0-py2-none-any.whl": {"sha256": "b" * 64},
    }


def test_the_contract_keeps_every_value_and_its_downgrade_gives_them_back(empty_database_url):
    url = empty_database_url
    upgrade_at(url, EXPAND)
    insert_as_release_before(url, "old_writer-1.0-py3-none-any.whl", "a" * 64)
    upgrade_at(url, CONTRACT)
    assert query(url, "SELECT filename, core_metadata_sha256_digest FROM release_files") == [
        ("old_writer-1.0-py3-none-any.whl", "a" * 64)
    ]
    downgrade(url, EXPAND)
    assert query(url, "SELECT metadata_sha256_digest FROM release_files") == [("a" * 64,)]
    # Release A's schema again: what the release before writes reaches the new column.
    insert_as_release_before(url, "old_writer-1.0-py2-none-any.whl", "b" * 64)
    assert query(
        url, "SELECT core_metadata_sha256_digest FROM release_files ORDER BY filename"
    ) == [("b" * 64,), ("a" * 64,)]
