"""Settings from the ini file and the environment: a value the file states always wins."""

from __future__ import annotations

import logging

import pytest

from pypi_web import main
from pypi_web.config import ConfigError, apply_environment, read_app_config, read_app_settings

DEV_URL = "sqlite:////srv/dev/pypi_web.sqlite"
PROD_URL = "postgresql+psycopg://pypi:secret@db.internal/pypi_web"


@pytest.fixture(autouse=True)
def exported(monkeypatch):
    """The shell of someone who deploys production: both variables exported."""
    monkeypatch.setenv("PYPI_WEB_DATABASE_URL", PROD_URL)
    monkeypatch.setenv("PYPI_WEB_FILES_DIR", "/srv/prod/files")


def write(tmp_path, name: str, body: str):
    path = tmp_path / name
    path.write_text(f"[app:main]\nuse = egg:pypi_web\n{body}", encoding="utf-8")
    return path


def test_a_value_the_file_states_is_never_replaced(tmp_path, caplog):
    ini = write(
        tmp_path, "development.ini", f"sqlalchemy.url = {DEV_URL}\nfiles.storage_dir = /srv/dev\n"
    )
    with caplog.at_level(logging.WARNING, logger="pypi_web.config"):
        settings = read_app_settings(ini)
    assert settings["sqlalchemy.url"] == DEV_URL
    assert settings["files.storage_dir"] == "/srv/dev"
    # Said once, in one line each, naming the file and never the password.
    notices = [r.getMessage() for r in caplog.records]
    assert notices == [
        f"PYPI_WEB_DATABASE_URL is set but ignored: {ini} states its own sqlalchemy.url",
        f"PYPI_WEB_FILES_DIR is set but ignored: {ini} states its own files.storage_dir",
    ]
    assert "secret" not in caplog.text


def test_a_value_the_file_leaves_to_the_environment_is_filled_in(tmp_path, caplog):
    # production.ini leaves both out (a comment says where they come from); an empty
    # value is left to the environment too.
    ini = write(tmp_path, "production.ini", "# sqlalchemy.url: from PYPI_WEB_DATABASE_URL\n")
    empty = write(tmp_path, "staging.ini", "sqlalchemy.url =\nfiles.storage_dir =\n")
    with caplog.at_level(logging.WARNING, logger="pypi_web.config"):
        for path in (ini, empty):
            app = read_app_config(path)
            assert app.settings["sqlalchemy.url"] == PROD_URL
            assert app.settings["files.storage_dir"] == "/srv/prod/files"
            assert app.origin("sqlalchemy.url") == (
                f"PYPI_WEB_DATABASE_URL, as {path} leaves sqlalchemy.url to the environment"
            )
    assert caplog.records == []
    dev = read_app_config(write(tmp_path, "dev.ini", f"sqlalchemy.url = {DEV_URL}\n"))
    assert dev.origin("sqlalchemy.url") == f"sqlalchemy.url in {tmp_path / 'dev.ini'}"


def test_the_same_value_in_both_places_is_no_news(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("PYPI_WEB_DATABASE_URL", DEV_URL)
    ini = write(tmp_path, "same.ini", f"sqlalchemy.url = {DEV_URL}\n")
    with caplog.at_level(logging.WARNING, logger="pypi_web.config"):
        assert read_app_settings(ini)["sqlalchemy.url"] == DEV_URL
    assert "PYPI_WEB_DATABASE_URL" not in caplog.text


def test_the_site_keeps_the_files_directory_its_settings_name(
    dbengine, app_settings, tmp_path, caplog
):
    stated = str(tmp_path / "stated-files")
    ini = str(tmp_path / "site.ini")
    settings = {**app_settings, "files.storage_dir": stated}
    with caplog.at_level(logging.WARNING, logger="pypi_web.config"):
        app = main({"__file__": ini}, dbengine=dbengine, **settings)
    assert app.registry.settings["files.storage_dir"] == stated
    assert f"PYPI_WEB_FILES_DIR is set but ignored: {ini} states its own" in caplog.text


def test_nothing_anywhere_is_an_error_naming_both_places(tmp_path, monkeypatch):
    from pypi_web.config import database_url

    monkeypatch.delenv("PYPI_WEB_DATABASE_URL")
    ini = write(tmp_path, "production.ini", "")
    with pytest.raises(ConfigError) as raised:
        database_url(read_app_settings(ini), str(ini))
    assert str(raised.value) == (
        f"{ini}: no database configured: set sqlalchemy.url in the file "
        "or the PYPI_WEB_DATABASE_URL environment variable"
    )


def test_apply_environment_on_plain_settings():
    filled = apply_environment({"sqlalchemy.url": ""}, "the app settings")
    assert filled["sqlalchemy.url"] == PROD_URL
    kept = apply_environment({"sqlalchemy.url": DEV_URL}, "the app settings")
    assert kept["sqlalchemy.url"] == DEV_URL
