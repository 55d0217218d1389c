"""development.ini as a developer runs it, debug toolbar included: hostile input gets a 4xx.

The toolbar's tween reads the request's path before any view does; it used to
answer a path or query that is not UTF-8 with a 500 (an interactive
traceback), where production answered 400.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import webtest
from pyramid.paster import get_app

DEVELOPMENT_INI = Path(__file__).resolve().parents[2] / "development.ini"


@pytest.fixture
def development_app(migrated_database_url, tmp_path, monkeypatch):
    # development.ini's own settings, with this test's database and file store.
    monkeypatch.setenv("PYPI_WEB_DATABASE_URL", migrated_database_url)
    monkeypatch.setenv("PYPI_WEB_FILES_DIR", str(tmp_path / "files"))
    app = get_app(str(DEVELOPMENT_INI))
    # The toolbar answers to this machine only (debugtoolbar.hosts).
    yield webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})
    app.registry["dbengine"].dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/project/%ff/", "The URL path is not valid UTF-8."),
        ("/simple/%c3/", "The URL path is not valid UTF-8."),
        ("/?%ff=1", "The query string is not valid UTF-8."),
        ("/search/?q=%ff", "The query string is not valid UTF-8."),
    ],
)
def test_hostile_input_gets_the_same_400_as_in_production(development_app, url, message):
    home = development_app.get("/")
    assert "pDebugToolbarHandle" in home.text, "the debug toolbar is not on this page"
    response = development_app.get(url, status=400)
    assert message in response.text
    assert "Content-Security-Policy" in response.headers
