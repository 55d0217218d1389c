"""``pypi-web-user``: users and tokens from the command line, on a real (committed) database."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from pypi_web.accounts import cli
from pypi_web.accounts import services as accounts
from pypi_web.models import Package

from .. import factories

SECRET = "test-only-session-secret-0123456789abcdef"


def write_ini(tmp_path: Path, db_url: str) -> str:
    ini = tmp_path / "app.ini"
    ini.write_text(
        f"[app:main]\nuse = egg:pypi_web\nsqlalchemy.url = {db_url}\n"
        f"files.storage_dir = {tmp_path / 'files'}\nsession.secret = {SECRET}\n"
    )
    return str(ini)


def run_cli(argv, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old_err = sys.stderr
    sys.stderr = err
    try:
        code = cli.main(argv, stdin=io.StringIO(stdin), out=out)
    finally:
        sys.stderr = old_err
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def ini(tmp_path, migrated_database_url) -> str:
    return write_ini(tmp_path, migrated_database_url)


def test_create_with_password_and_token(ini, migrated_database_url, session_factory_for):
    code, out, err = run_cli(
        ["create", ini, "Alice", "--email", "alice@example.org", "--password-stdin", "--token"],
        stdin="a good long password\n",
    )
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("pypi-") and "\n" not in secret
    with session_factory_for(migrated_database_url)() as session:
        user = accounts.check_password(session, "alice", "a good long password")
        assert user is not None and user.email == "alice@example.org"
        token = accounts.token_for_secret(session, secret)
        assert token is not None and token.user_id == user.id and token.package_id is None


def test_create_without_password_and_more_tokens(ini, migrated_database_url, session_factory_for):
    assert run_cli(["create", ini, "bob", "--no-password"])[0] == 0
    code, out, _ = run_cli(["token", ini, "bob", "--description", "ci"])
    assert code == 0
    factory = session_factory_for(migrated_database_url)
    with factory() as session:
        user = accounts.user_by_username(session, "bob")
        assert user.password_hash is None
        token = accounts.token_for_secret(session, out.strip())
        assert token.description == "ci"
        # A token limited to a project the user owns.
        factories.project(session, "Bobs-Lib", owner=user)
        session.commit()
    code, out, err = run_cli(["token", ini, "bob", "--project", "bobs_lib"])
    assert code == 0, err
    with factory() as session:
        token = accounts.token_for_secret(session, out.strip())
        assert token.package.name == "Bobs-Lib"


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["create", "{ini}", "bad name!", "--no-password"], "", "Usernames are 1 to 50"),
        (["create", "{ini}", "carol", "--password-stdin"], "short\n", "at least 8 characters"),
        (["create", "{ini}", "carol"], "", "give --password-stdin"),
        (["token", "{ini}", "nobody"], "", "there is no user named 'nobody'"),
        (
            ["create", "{ini}", "dave", "--no-password", "--token", "--token-project", "nope"],
            "",
            "there is no project named 'nope'",
        ),
        (["create", "/no/such/file.ini", "erin", "--no-password"], "", "no such configuration"),
    ],
)
def test_refusals(ini, argv, stdin, message):
    code, out, err = run_cli([a.format(ini=ini) for a in argv], stdin=stdin)
    assert code == 1
    assert out == ""
    assert message in err and err.startswith("pypi-web-user: error:")


def test_existing_user(ini):
    assert run_cli(["create", ini, "frank", "--no-password"])[0] == 0
    code, _, err = run_cli(["create", ini, "Frank", "--no-password"])
    assert code == 1 and "already taken" in err


def test_unmigrated_database(tmp_path, empty_database_url):
    ini = write_ini(tmp_path, empty_database_url)
    code, _, err = run_cli(["create", ini, "gina", "--no-password"])
    assert code == 1
    assert "not at the current schema" in err and "upgrade" in err


def test_console_script_is_installed(ini):
    """The entry point twine-style deployment scripts call."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "pypi-web-user"),
            "create",
            ini,
            "henry",
            "--no-password",
            "--token",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("pypi-")


def test_an_admin_quarantines_a_project_and_lifts_it(
    ini, migrated_database_url, session_factory_for
):
    with session_factory_for(migrated_database_url)() as session:
        factories.project(session, "Suspect")
        session.commit()
    argv = ["project-status", ini, "Suspect", "quarantined", "--reason", "Reported as malware"]
    code, out, err = run_cli(argv)
    assert code == 0, err
    assert out.strip() == "Suspect is now quarantined"
    with session_factory_for(migrated_database_url)() as session:
        package = session.query(Package).filter_by(normalized_name="suspect").one()
        assert (package.status, package.status_reason) == ("quarantined", "Reported as malware")
    assert (
        run_cli(["project-status", ini, "suspect", "active"])[1].strip() == "Suspect is now active"
    )
    code, _, err = run_cli(["project-status", ini, "nothing-here", "archived"])
    assert code != 0 and "nothing-here" in err


def test_disable_ends_the_account_and_its_sessions(ini, migrated_database_url, session_factory_for):
    assert (
        run_cli(["create", ini, "gone", "--password-stdin"], stdin="long enough password\n")[0] == 0
    )
    code, _, err = run_cli(["disable", ini, "gone"])
    assert code == 0 and "disabled user gone" in err
    assert run_cli(["disable", ini, "nobody"])[0] == 1
    with session_factory_for(migrated_database_url)() as session:
        user = accounts.user_by_username(session, "gone")
        assert not user.is_active
        assert user.session_generation == 1
        assert accounts.check_password(session, "gone", "long enough password") is None
