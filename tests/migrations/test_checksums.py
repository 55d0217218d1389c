"""Applied revisions are tamper-evident: checksums recorded per database, checked by status."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
import webtest

from pypi_web import main as make_app
from pypi_web.migrations import head_revision, script_directory
from pypi_web.migrations.checksums import CHECKSUM_TABLE, file_checksum
from pypi_web.migrations.cli import main, status

from .conftest import (
    downgrade,
    execute,
    make_script_location,
    query,
    revisions_base_to_head,
    stamp,
    upgrade_at,
)

PYPI_WEB_DB = str(Path(sys.executable).parent / "pypi-web-db")
RENAME = "14123ea58e77"
AUDIT = "49f8a6a1ce67"
RECORDED = f"SELECT revision, sha256, recorded FROM {CHECKSUM_TABLE} ORDER BY revision"


def file_of(revision: str, script_location=None) -> Path:
    return Path(script_directory(script_location).get_revision(revision).path)


def recorded(url: str) -> dict[str, tuple[str, str]]:
    return {rev: (sha, how) for rev, sha, how in query(url, RECORDED)}


def tamper(url: str, revision: str) -> None:
    """As if ``revision``'s file had been edited after this database applied it."""
    execute(url, f"UPDATE {CHECKSUM_TABLE} SET sha256 = '{'0' * 64}' WHERE revision = '{revision}'")


def status_lines(url: str, script_location=None) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = status([f"env={url}"], False, out=out, script_location=script_location)
    return code, out.getvalue().splitlines()


def test_the_checksum_normalises_line_endings_and_nothing_else(tmp_path):
    source = file_of(RENAME).read_bytes()
    crlf, bom, edited = tmp_path / "crlf.py", tmp_path / "bom.py", tmp_path / "edited.py"
    crlf.write_bytes(source.replace(b"\n", b"\r\n"))
    bom.write_bytes(b"\xef\xbb\xbf" + source)
    edited.write_bytes(source.replace(b"homepage_url", b"homepage_uri", 1))
    assert file_checksum(crlf) == file_checksum(bom) == file_checksum(file_of(RENAME))
    assert file_checksum(edited) != file_checksum(file_of(RENAME))
    # A comment or a space is a change too: a reviewer should see it.
    spaced = tmp_path / "spaced.py"
    spaced.write_bytes(source + b"# note\n")
    assert file_checksum(spaced) != file_checksum(file_of(RENAME))


def test_each_run_records_what_it_applied_and_status_agrees(empty_database_url):
    upgrade_at(empty_database_url)
    sums = recorded(empty_database_url)
    assert set(sums) == set(revisions_base_to_head())
    for revision, (sha, how) in sums.items():
        assert (sha, how) == (file_checksum(file_of(revision)), "applied")
    code, lines = status_lines(empty_database_url)
    assert code == 0
    assert lines[0].split()[-1] == "CHECKSUMS"
    assert lines[1].split()[-1] == "ok"


def test_an_edited_revision_file_is_modified_in_status(empty_database_url, tmp_path):
    history = make_script_location(tmp_path, {})
    upgrade_at(empty_database_url, script_location=history)
    edited = file_of(RENAME, history)
    then = file_checksum(edited)
    edited.write_text(edited.read_text() + "\n# an edit after it was applied\n")
    code, lines = status_lines(empty_database_url, script_location=history)
    assert code == 1
    assert lines[1].split()[-2:] == ["MODIFIED", "(1)"]
    assert (
        f"  MODIFIED {RENAME}: {edited.name} differs from the file this database applied "
        f"(sha256 {then[:12]} then, {file_checksum(edited)[:12]} now)"
    ) in lines
    # What was applied is never overwritten by a later run.
    upgrade_at(empty_database_url, script_location=history)
    assert recorded(empty_database_url)[RENAME][0] == then


def test_a_database_migrated_before_checksums_reports_then_records_them(empty_database_url):
    upgrade_at(empty_database_url, AUDIT)
    execute(empty_database_url, f"DROP TABLE {CHECKSUM_TABLE}")
    code, lines = status_lines(empty_database_url)
    assert code == 1  # behind, not because of the checksums
    assert lines[1].split()[-3:] == ["not", "recorded", "(3)"]
    assert any("checksums not recorded for 3 applied revision(s)" in line for line in lines)
    # The next run that applies a revision records every revision already applied.
    upgrade_at(empty_database_url)
    sums = recorded(empty_database_url)
    before = {"a9a83eac6085", RENAME, AUDIT}
    assert {rev for rev, (_, how) in sums.items() if how == "backfilled"} == before
    assert {rev for rev, (_, how) in sums.items() if how == "applied"} == (
        set(revisions_base_to_head()) - before
    )
    assert status_lines(empty_database_url)[0] == 0


def test_downgrade_forgets_and_stamp_marks(empty_database_url):
    upgrade_at(empty_database_url)
    downgrade(empty_database_url, AUDIT)
    assert set(recorded(empty_database_url)) == {"a9a83eac6085", RENAME, AUDIT}
    stamp(empty_database_url, "head")
    sums = recorded(empty_database_url)
    assert sums[head_revision()][1] == "stamped"
    assert sums[AUDIT][1] == "applied"


def test_the_guard_logs_a_modified_revision_and_serves(
    migrated_database_url, app_settings_for, caplog
):
    tamper(migrated_database_url, RENAME)
    engine, settings = app_settings_for(migrated_database_url)
    with caplog.at_level(logging.WARNING, logger="pypi_web.migrations.guard"):
        app = webtest.TestApp(make_app({}, dbengine=engine, **settings))
    assert (
        f"revision {RENAME} ({file_of(RENAME).name}) was modified after this database applied "
        f"it (sha256 000000000000 then, {file_checksum(file_of(RENAME))[:12]} now)"
    ) in caplog.text
    app.get("/", status=200)


def test_the_checksums_command_lists_and_accepts(migrated_database_url, tmp_path):
    tamper(migrated_database_url, RENAME)
    ini = tmp_path / "production.ini"
    ini.write_text(f"[app:main]\nuse = egg:pypi_web\nsqlalchemy.url = {migrated_database_url}\n")
    listed = subprocess.run([PYPI_WEB_DB, "checksums", str(ini)], capture_output=True, text=True)
    assert listed.returncode == 1, listed.stderr
    now = file_checksum(file_of(RENAME))
    assert f"  {RENAME}  applied     000000000000  MODIFIED (the file is {now[:12]} now)" in (
        listed.stdout.splitlines()
    )
    gate = subprocess.run([PYPI_WEB_DB, "status", str(ini)], capture_output=True, text=True)
    assert gate.returncode == 1
    assert "MODIFIED (1)" in gate.stdout
    accepted = subprocess.run(
        [PYPI_WEB_DB, "checksums", str(ini), "--accept", RENAME], capture_output=True, text=True
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert f"accepted {RENAME}: sha256 {now}" in accepted.stdout
    assert recorded(migrated_database_url)[RENAME] == (now, "accepted")
    assert subprocess.run([PYPI_WEB_DB, "status", str(ini)], capture_output=True).returncode == 0


def test_checksums_command_errors(empty_database_url, tmp_path, capsys):
    assert main(["checksums", str(tmp_path / "none.ini")]) == 2
    assert capsys.readouterr().err.endswith("none.ini: no such configuration file\n")
    assert main(["checksums", empty_database_url]) == 1
    assert capsys.readouterr().err == (
        "pypi-web-db checksums: the database is empty: no revision of this code applied\n"
    )
    upgrade_at(empty_database_url, AUDIT)
    assert main(["checksums", empty_database_url, "--accept", head_revision()]) == 2
    assert capsys.readouterr().err == (
        f"pypi-web-db checksums: {head_revision()}: not a revision applied to this database\n"
    )


def test_the_bookkeeping_table_is_no_part_of_the_schema(migrated_database_url):
    from pypi_web.migrations.cli import drift
    from pypi_web.migrations.schema import snapshot

    engine = sa.create_engine(migrated_database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        assert sa.inspect(connection).has_table(CHECKSUM_TABLE)
        assert CHECKSUM_TABLE not in snapshot(connection)
        assert drift(connection) == []
    engine.dispose()
