"""``pypi-web-import`` end to end: arguments, refusals, exit codes and messages."""

from __future__ import annotations

import contextlib
import io
import shutil

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pypi_web.importer.cli import main
from pypi_web.importer.installed import InstalledImporter
from pypi_web.migrations import head_revision
from tests.conftest import upgrade

from .conftest import counts, run_import, summary, write_json

REFUSED = 2


def test_json_dir_through_the_configuration_file(
    migrated_database_url, ini_file, top100_dir, tmp_path
):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("six.json", "docopt.json"):
        shutil.copy(top100_dir / name, docs / name)
    run = run_import(str(ini_file(migrated_database_url)), "--json-dir", str(docs))
    assert run.code == 0, run.err
    assert run.out.startswith("Read 2 JSON documents in ")
    assert summary(run.out) == {"packages": (2, 0), "releases": (34, 0), "files": (47, 0)}
    assert counts(migrated_database_url)["packages"] == 2


def test_several_directories_in_one_run(migrated_database_url, top100_dir, tmp_path):
    for sub, name in (("a", "six.json"), ("b", "idna.json")):
        (tmp_path / sub).mkdir()
        shutil.copy(top100_dir / name, tmp_path / sub / name)
    run = run_import(
        "--db-url",
        migrated_database_url,
        "--json-dir",
        str(tmp_path / "a"),
        "--json-dir",
        str(tmp_path / "b"),
    )
    assert run.code == 0, run.err
    assert counts(migrated_database_url)["packages"] == 2


def test_a_database_without_schema_is_refused(empty_database_url, tmp_path):
    engine = create_engine(empty_database_url)
    engine.connect().close()  # an SQLite database exists once connected to
    engine.dispose()
    write_json(tmp_path, "x.json", {})
    run = run_import("--db-url", empty_database_url, "--json-dir", str(tmp_path))
    assert run.code == REFUSED
    shown = make_url(empty_database_url).render_as_string(hide_password=True)
    assert run.err.startswith(f"pypi-web-import: error: the database {shown} has no schema")
    assert "alembic -x db_url=" in run.err and "upgrade head" in run.err
    assert run.out == ""


def test_a_database_behind_the_head_is_refused(empty_database_url, ini_file, tmp_path):
    upgrade(empty_database_url, "a9a83eac6085")  # the baseline only
    write_json(tmp_path, "x.json", {})
    ini = ini_file(empty_database_url)
    run = run_import(str(ini), "--json-dir", str(tmp_path))
    assert run.code == REFUSED
    assert f"is at revision a9a83eac6085, not at the head revision {head_revision()}" in run.err
    assert f"run `alembic -x ini={ini} upgrade head`" in run.err


def test_a_missing_sqlite_file_is_refused_not_created(tmp_path):
    write_json(tmp_path, "x.json", {})
    missing = tmp_path / "nowhere.sqlite"
    run = run_import("--db-url", f"sqlite:///{missing}", "--json-dir", str(tmp_path))
    assert run.code == REFUSED
    assert f"the database file {missing} does not exist" in run.err
    assert not missing.exists()


def test_an_unreachable_database_is_refused(tmp_path):
    write_json(tmp_path, "x.json", {})
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    run = run_import("--db-url", url, "--json-dir", str(tmp_path))
    assert run.code == REFUSED
    assert "cannot connect to the database postgresql+psycopg://nobody@127.0.0.1:1/none" in run.err


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "absent", "{dir}: no such directory"),
        (lambda p: write_json(p, "file.json", {}), "{dir}: not a directory"),
        (lambda p: p, "{dir}: contains no .json documents"),
    ],
)
def test_bad_directories_are_refused(migrated_database_url, tmp_path, make, message):
    directory = make(tmp_path)
    run = run_import("--db-url", migrated_database_url, "--json-dir", str(directory))
    assert run.code == REFUSED
    assert run.err == f"pypi-web-import: error: {message.format(dir=directory)}\n"
    assert counts(migrated_database_url)["packages"] == 0


def test_missing_configuration_file_is_refused(tmp_path):
    missing = tmp_path / "production.ini"
    run = run_import(str(missing), "--installed")
    assert run.code == REFUSED
    assert run.err == f"pypi-web-import: error: {missing}: no such configuration file\n"


def test_configuration_without_database_url_is_refused(tmp_path):
    ini = tmp_path / "app.ini"
    ini.write_text("[app:main]\nuse = egg:pypi_web\n")
    run = run_import(str(ini), "--installed")
    assert run.code == REFUSED
    assert f"{ini}: no database configured: set sqlalchemy.url" in run.err


def test_nothing_to_import_is_refused():
    run = run_import(
        "--db-url",
        "sqlite://",
    )
    assert run.code == REFUSED
    assert "nothing to import: give --json-dir DIR and/or --installed" in run.err


def test_no_database_is_refused(tmp_path):
    run = run_import("--installed")
    assert run.code == REFUSED
    assert "give the app's configuration file (e.g. development.ini) or --db-url URL" in run.err


def test_unknown_option_is_a_usage_error():
    run = run_import("--json-directory", "x")
    assert run.code == REFUSED
    assert "unrecognized arguments: --json-directory" in run.err


def test_no_progress_bar_without_a_terminal(migrated_database_url, top100_dir, tmp_path):
    shutil.copy(top100_dir / "six.json", tmp_path / "six.json")
    run = run_import("--db-url", migrated_database_url, "--json-dir", str(tmp_path))
    assert run.code == 0
    assert run.err == ""  # tqdm draws on stderr only when it is a TTY


def test_an_interrupted_run_leaves_nothing(
    migrated_database_url, top100_dir, tmp_path, monkeypatch
):
    """One transaction for the whole run: the documents already done are not kept."""
    for name in ("docopt.json", "six.json"):
        shutil.copy(top100_dir / name, tmp_path / name)

    def interrupt(self, dists=None, progress=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(InstalledImporter, "import_distributions", interrupt)
    run = run_import("--db-url", migrated_database_url, "--json-dir", str(tmp_path), "--installed")
    assert run.code == 130
    assert run.err == "pypi-web-import: interrupted; nothing was imported\n"
    assert counts(migrated_database_url)["packages"] == 0


def test_a_progress_bar_on_a_terminal(migrated_database_url, top100_dir, tmp_path):
    for name in ("docopt.json", "six.json"):
        shutil.copy(top100_dir / name, tmp_path / name)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal, out = Terminal(), io.StringIO()
    with contextlib.redirect_stderr(terminal), contextlib.redirect_stdout(out):
        code = main(["--db-url", migrated_database_url, "--json-dir", str(tmp_path)])
    assert code == 0
    assert "2/2" in terminal.getvalue() and "six.json" in terminal.getvalue()
    assert "2/2" not in out.getvalue()


def test_a_failed_commit_imports_nothing(migrated_database_url, top100_dir, tmp_path, monkeypatch):
    shutil.copy(top100_dir / "six.json", tmp_path / "six.json")

    def failing_commit(self):
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "commit", failing_commit)
    run = run_import("--db-url", migrated_database_url, "--json-dir", str(tmp_path))
    assert run.code == 1
    assert run.err == (
        "pypi-web-import: error: the database failed, nothing was imported: disk I/O error\n"
    )
    monkeypatch.undo()
    assert counts(migrated_database_url)["packages"] == 0
