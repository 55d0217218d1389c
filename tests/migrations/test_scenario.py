"""The story this project exists for, end to end.

Code that adds ``packages.last_updated`` meets a database from before that
revision, full of real data: it refuses to start and says what to run,
instead of failing with "no such column" on the first request. Running the
command it printed brings the database up; then every page serves and every
package has ``last_updated`` filled in.
"""

from __future__ import annotations

import datetime
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import webtest
from pyramid.interfaces import IRoutesMapper

from pypi_web import main
from pypi_web.migrations import PROJECT_ROOT, head_revision
from pypi_web.migrations.guard import SchemaMismatchError

from .conftest import database_revision, downgrade, query, revision_before

LAST_UPDATED = "756594532db6"
# Pages whose URL needs a project (and a release of it).
SAMPLE_PROJECTS = ("requests", "six", "Django")


def _utc(value) -> datetime.datetime:
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value


# Read-only pages every visitor can see: these must answer 200, not just "no 5xx".
PUBLIC_PAGES = {
    "home",
    "about",
    "classifiers",
    "project",
    "release",
    "search",
    "simple_index",
    "simple_detail",
    "json_project",
    "json_release",
    "schema_status",
}


def page_urls(app, url: str) -> list[tuple[str, str]]:
    """(route name, URL) for every GET-able route of the app (static files left out)."""
    latest = dict(
        query(
            url,
            "SELECT p.name, r.version FROM packages p JOIN releases r ON r.package_id = p.id "
            "WHERE r.sort_order = (SELECT MAX(sort_order) FROM releases WHERE package_id = p.id)",
        )
    )
    urls = []
    for route in app.registry.getUtility(IRoutesMapper).get_routes():
        placeholders = set(re.findall(r"{(\w+)", route.pattern)) | (
            {"*"} if "*" in route.pattern else set()
        )
        if not placeholders:
            urls.append((route.name, route.generate({})))
        elif placeholders <= {"name", "version"}:
            for name in SAMPLE_PROJECTS:
                urls.append((route.name, route.generate({"name": name, "version": latest[name]})))
    return urls


def test_code_ahead_of_its_database_refuses_then_serves_after_upgrade(
    data_database_url, app_settings_for, capsys
):
    url = data_database_url
    downgrade(url, revision_before(LAST_UPDATED))
    assert database_revision(url) == revision_before(LAST_UPDATED)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("packages")}
    engine.dispose()
    assert "last_updated" not in columns

    engine, settings = app_settings_for(url)
    with pytest.raises(SchemaMismatchError) as excinfo:
        main({}, dbengine=engine, **settings)
    message = str(excinfo.value)
    assert "behind the code; refusing to start" in message
    assert f"database revision: {revision_before(LAST_UPDATED)}" in message
    assert f"code needs:        {head_revision()}" in message
    assert message in capsys.readouterr().err

    # Run exactly the commands it printed: the pre-deploy step, then the post-deploy
    # one (the revisions pending include a contract one, dc9196d0d27e).
    lines = message.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Bring the database up"))
    commands = [line.strip() for line in lines[start + 1 : start + 3]]
    assert [shlex.split(c)[-3:] for c in commands] == [
        [shlex.split(commands[0])[-3], "upgrade", "head"],
        ["contract=true", "upgrade", "head"],
    ]
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "alembic"
        argv[0] = str(Path(sys.executable).parent / "alembic")
        result = subprocess.run(argv, capture_output=True, text=True, cwd=PROJECT_ROOT)
        assert result.returncode == 0, result.stderr
    assert database_revision(url) == head_revision()

    app = main({}, dbengine=engine, **settings)
    testapp = webtest.TestApp(app)
    urls = page_urls(app, url)
    assert {"home", "project", "schema_status"} <= {name for name, _ in urls}
    for route_name, page in urls:
        res = testapp.get(page, expect_errors=True)
        if res.status_int in (301, 302, 303, 307, 308):
            res = res.follow(expect_errors=True)
        assert res.status_int < 500, f"{page}: {res.status}"
        if route_name in PUBLIC_PAGES:
            assert res.status_int == 200, f"{page}: {res.status}"

    rows = query(
        url,
        "SELECT p.name, p.last_updated, MAX(f.upload_time) FROM packages p "
        "JOIN releases r ON r.package_id = p.id JOIN release_files f ON f.release_id = r.id "
        "GROUP BY p.name, p.last_updated",
    )
    assert len(rows) == 96
    for name, last_updated, newest_upload in rows:
        assert last_updated is not None, name
        assert _utc(last_updated) == _utc(newest_upload), name
