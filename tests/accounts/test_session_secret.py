"""The session secret: production refuses a missing, short or published one."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
from pyramid.exceptions import ConfigurationError

from pypi_web import main
from pypi_web.accounts import security

ROOT = Path(__file__).resolve().parents[2]
# production.ini interpolates these; the secret test does not need real values.
FAKE_INI_VARIABLES = {"ENV_PYPI_WEB_DATABASE_URL": "sqlite://", "ENV_PYPI_WEB_FILES_DIR": "files"}
GOOD_SECRET = "Zq3v9JxK2mP8rT5wY1bN6cF4hL7dS0aE-long-and-random"


def ini_setting(filename: str, name: str) -> str:
    parser = configparser.RawConfigParser()
    parser.read(ROOT / filename)
    return parser.get("app:main", name)


@pytest.fixture(autouse=True)
def no_environment_variables(monkeypatch):
    monkeypatch.delenv(security.ENVIRONMENT_VAR, raising=False)
    monkeypatch.delenv(security.SECRET_ENVIRONMENT_VAR, raising=False)


def test_development_ini_uses_the_published_development_secret():
    assert ini_setting("development.ini", "session.secret") == security.DEVELOPMENT_SECRET


def test_production_ini_is_marked_public_and_holds_no_secret():
    with pytest.raises(configparser.NoOptionError):
        ini_setting("production.ini", "session.secret")
    assert ini_setting("production.ini", "session.secure") == "true"
    assert ini_setting("production.ini", "pypi_web.environment") == "production"


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "nor session.secret is set"),
        ("", "nor session.secret is set"),
        ("   ", "nor session.secret is set"),
        (security.DEVELOPMENT_SECRET, "published default"),
        ("changeme", "published default"),
        ("short-but-random-9f8e7d", "shorter than 32"),
        ("%(ENV_PYPI_WEB_SECRET)s", "unexpanded placeholder"),
    ],
)
def test_production_refuses_a_bad_secret(secret, reason):
    settings = {"pypi_web.environment": "production"}
    if secret is not None:
        settings["session.secret"] = secret
    with pytest.raises(ConfigurationError) as raised:
        security.session_secret(settings)
    message = str(raised.value)
    assert "refuses to start in production" in message
    assert reason in message
    assert "PYPI_WEB_SECRET" in message


def test_the_environment_variable_marks_production_too(monkeypatch):
    monkeypatch.setenv(security.ENVIRONMENT_VAR, "staging")
    with pytest.raises(ConfigurationError):
        security.session_secret({"session.secret": security.DEVELOPMENT_SECRET})


def test_production_accepts_a_long_random_secret():
    settings = {"pypi_web.environment": "production", "session.secret": GOOD_SECRET}
    assert security.session_secret(settings) == GOOD_SECRET


def test_development_without_a_secret_gets_a_random_one(caplog):
    first = security.session_secret({})
    second = security.session_secret({})
    assert len(first) >= 32 and first != second
    assert "nor session.secret is set" in caplog.text


def test_the_app_refuses_to_start_in_production_with_the_development_secret(dbengine, app_settings):
    settings = {
        **app_settings,
        "pypi_web.environment": "production",
        "session.secret": security.DEVELOPMENT_SECRET,
    }
    with pytest.raises(ConfigurationError, match="refuses to start in production"):
        main({}, dbengine=dbengine, **settings)


def test_the_app_starts_in_production_with_a_real_secret(dbengine, app_settings):
    import webtest

    settings = {
        **app_settings,
        "pypi_web.environment": "production",
        "session.secret": GOOD_SECRET,
        "session.secure": "true",
    }
    app = main({}, dbengine=dbengine, **settings)
    response = webtest.TestApp(app).get("/account/login/")
    assert "secure" in response.headers["Set-Cookie"].lower()


def test_the_environment_variable_wins_over_the_file(monkeypatch):
    monkeypatch.setenv(security.SECRET_ENVIRONMENT_VAR, GOOD_SECRET)
    settings = {"pypi_web.environment": "production", "session.secret": "changeme"}
    assert security.session_secret(settings) == GOOD_SECRET


def test_production_ini_refuses_to_start_without_the_secret_variable(monkeypatch, tmp_path):
    """The real production.ini, loaded as pserve loads it, with PYPI_WEB_SECRET unset."""
    from pyramid.paster import get_appsettings

    settings = get_appsettings(str(ROOT / "production.ini"), options=FAKE_INI_VARIABLES)
    with pytest.raises(ConfigurationError, match=r"PYPI_WEB_SECRET nor session\.secret is set"):
        security.session_secret(settings)
    monkeypatch.setenv(security.SECRET_ENVIRONMENT_VAR, "")
    with pytest.raises(ConfigurationError, match=r"nor session\.secret is set"):
        security.session_secret(settings)
    monkeypatch.setenv(security.SECRET_ENVIRONMENT_VAR, GOOD_SECRET)
    assert security.session_secret(settings) == GOOD_SECRET
