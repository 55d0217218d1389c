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
def development_app(migrated_database_url, tmp_path):
    # development.ini's own settings, with this test's database and file store
    # (stated in the file: an environment variable never replaces what it states).
    ini = tmp_path / "development.ini"
    ini.write_text(
        f"[app:main]\nuse = config:{DEVELOPMENT_INI}#main\n"
        f"sqlalchemy.url = {migrated_database_url}\nfiles.storage_dir = {tmp_path / 'files'}\n",
        encoding="utf-8",
    )
    app = get_app(str(ini))
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
