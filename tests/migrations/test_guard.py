"""The start-up schema guard and /_status/schema."""

from __future__ import annotations

import logging

import pytest
import webtest
from pyramid.exceptions import ConfigurationError

from pypi_web import main
from pypi_web.migrations import head_revision, script_directory
from pypi_web.migrations.guard import SchemaMismatchError, schema_status
from pypi_web.migrations.phases import EXPAND, phase_of
from pypi_web.models import Base, get_engine
from pypi_web.models.search import SEARCH_SCHEMA_NAMES

from .conftest import (
    database_revision,
    downgrade,
    execute,
    make_script_location,
    revision_before,
    revisions_base_to_head,
    upgrade_at,
)

AUDIT = "49f8a6a1ce67"


def phase_of_revision(revision: str) -> str:
    return phase_of(script_directory().get_revision(revision))


def test_a_database_at_head_starts_and_reports_up_to_date(migrated_database_url, app_settings_for):
    engine, settings = app_settings_for(migrated_database_url)
    app = webtest.TestApp(main({}, dbengine=engine, **settings))
    res = app.get("/_status/schema", status=200)
    body = res.json
    compatibility = body.pop("compatibility")
    assert compatibility["ok"] is True and compatibility["problems"] == []
    assert compatibility["tables"] >= 10 and compatibility["columns"] >= 90
    assert body == {
        "state": "up_to_date",
        "database_revision": head_revision(),
        "database_revisions": [head_revision()],
        "code_head": head_revision(),
        "up_to_date": True,
        "pending": [],
        "newer": [],
        "pending_contract": [],
        "serves": True,
    }
    assert res.headers["Cache-Control"] == "no-store"


def test_the_schema_is_reflected_at_start_up_not_per_request(
    migrated_database_url, app_settings_for
):
    from sqlalchemy import event

    engine, settings = app_settings_for(migrated_database_url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    app = webtest.TestApp(main({}, dbengine=engine, **settings))

    def reflections(statements):
        # Columns of the app's tables (has_table of alembic_version reads table_info too).
        return [s for s in statements if "pg_attribute" in s or 'table_xinfo("packages")' in s]

    assert reflections(statements), statements
    statements.clear()
    for _ in range(3):
        app.get("/_status/schema", status=200)
    # Each call reads the revision (a table check and a select, and on SQLite
    # the explicit BEGIN), and reflects nothing while it stays the same.
    assert not reflections(statements), statements
    assert len(statements) <= 3 * 4, statements


def test_a_database_behind_refuses_to_start_with_the_command(
    empty_database_url, app_settings_for, capsys, caplog
):
    upgrade_at(empty_database_url, AUDIT)
    engine, settings = app_settings_for(empty_database_url)
    with (
        caplog.at_level(logging.ERROR, logger="pypi_web.migrations.guard"),
        pytest.raises(SchemaMismatchError) as excinfo,
    ):
        main({}, dbengine=engine, **settings)
    message = str(excinfo.value)
    assert "the database schema is behind the code; refusing to start" in message
    assert f"database revision: {AUDIT} (audit_events:" in message
    assert f"code needs:        {head_revision()}" in message
    assert "pending revisions: 756594532db6" in message
    assert "alembic -x db_url=" in message and "upgrade head" in message
    assert message in capsys.readouterr().err
    assert message in caplog.text


def test_the_command_names_the_ini_file_of_a_deployment(
    empty_database_url, app_settings_for, tmp_path
):
    upgrade_at(empty_database_url, AUDIT)
    engine, settings = app_settings_for(empty_database_url)
    ini = tmp_path / "production.ini"
    with pytest.raises(SchemaMismatchError) as excinfo:
        main({"__file__": str(ini), "here": str(tmp_path)}, dbengine=engine, **settings)
    assert f"PYPI_WEB_INI={ini} alembic upgrade head" in str(excinfo.value)


def test_an_empty_database_refuses_to_start(empty_database_url, app_settings_for):
    engine, settings = app_settings_for(empty_database_url)
    with pytest.raises(SchemaMismatchError, match="the database has no tables") as excinfo:
        main({}, dbengine=engine, **settings)
    assert "upgrade head" in str(excinfo.value)


def test_a_database_made_without_alembic_refuses_and_names_adoption(
    empty_database_url, app_settings_for
):
    engine, settings = app_settings_for(empty_database_url)
    Base.metadata.create_all(engine)
    with pytest.raises(SchemaMismatchError) as excinfo:
        main({}, dbengine=engine, **settings)
    message = str(excinfo.value)
    assert "no alembic_version table" in message
    assert "pypi-web-db adopt " in message
    assert "database revision: none" in message


def test_an_unknown_revision_refuses_and_names_adoption(migrated_database_url, app_settings_for):
    execute(migrated_database_url, "UPDATE alembic_version SET version_num = 'deadbeef0000'")
    engine, settings = app_settings_for(migrated_database_url)
    with pytest.raises(SchemaMismatchError) as excinfo:
        main({}, dbengine=engine, **settings)
    message = str(excinfo.value)
    assert "revision deadbeef0000, which this code does not know" in message
    assert "pypi-web-db adopt " in message


NEWER = "b22c0ffee001"
NEWER_SOURCE = """
\"\"\"A revision of newer code: a nullable column old code can ignore.\"\"\"

import sqlalchemy as sa
from alembic import op

revision = "b22c0ffee001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("packages") as batch_op:
        batch_op.add_column(sa.Column("newer_code_column", sa.Text, nullable=True))


def downgrade():
    with op.batch_alter_table("packages") as batch_op:
        batch_op.drop_column("newer_code_column")
"""


def test_a_database_ahead_of_rolled_back_code_serves_and_warns(
    migrated_database_url, app_settings_for, tmp_path, caplog, capsys
):
    # Newer code (the real history plus one revision) migrates the database...
    newer_code = make_script_location(
        tmp_path, {"newer.py": NEWER_SOURCE.format(head=head_revision())}
    )
    upgrade_at(migrated_database_url, "head", script_location=newer_code)
    assert database_revision(migrated_database_url) == NEWER
    # ...then the code is rolled back to this one.
    engine, settings = app_settings_for(migrated_database_url)
    with caplog.at_level(logging.WARNING, logger="pypi_web.migrations.guard"):
        app = webtest.TestApp(main({}, dbengine=engine, **settings))
    assert "the database is ahead of the code" in caplog.text
    assert "serving: its schema still holds what this code maps" in caplog.text
    assert "each migration stays compatible" not in caplog.text
    err = capsys.readouterr().err
    assert f"newer revisions:   {NEWER}" in err
    tables = len([t for t in Base.metadata.sorted_tables if t.name not in SEARCH_SCHEMA_NAMES])
    assert f"schema check:      checked {tables} tables and " in err
    assert "all present and compatible" in err
    status = app.get("/_status/schema", status=200).json
    assert status["serves"] is True and status["compatibility"]["ok"] is True
    assert status["state"] == "ahead"
    assert status["up_to_date"] is False
    assert status["database_revision"] == NEWER
    assert status["newer"] == [NEWER]


def test_ahead_needs_the_recorded_lineage(migrated_database_url, tmp_path):
    """Without the lineage a revision from newer code is just unknown."""
    newer_code = make_script_location(
        tmp_path, {"newer.py": NEWER_SOURCE.format(head=head_revision())}
    )
    upgrade_at(migrated_database_url, "head", script_location=newer_code)
    execute(migrated_database_url, "DELETE FROM alembic_version_lineage")
    engine = get_engine({"sqlalchemy.url": migrated_database_url})
    with engine.connect() as connection:
        assert schema_status(connection, script_directory()).state == "unknown"
    engine.dispose()


def test_status_endpoint_reports_a_database_downgraded_under_a_running_app(
    migrated_database_url, app_settings_for
):
    engine, settings = app_settings_for(migrated_database_url)
    app = webtest.TestApp(main({}, dbengine=engine, **settings))
    # Below the newest expand revision: what it adds, this code maps. (Below a
    # contract head only, the code still serves: the pre-deploy step's state.)
    chain = revisions_base_to_head()
    newest_expand = next(rev for rev in reversed(chain) if phase_of_revision(rev) == EXPAND)
    downgrade(migrated_database_url, revision_before(newest_expand))
    status = app.get("/_status/schema", status=503).json
    assert status["state"] == "behind"
    assert status["up_to_date"] is False
    assert status["pending"] == chain[chain.index(newest_expand) :]


def test_auto_upgrade_upgrades_a_development_database(
    empty_database_url, app_settings_for, monkeypatch, caplog
):
    monkeypatch.delenv("PYPI_WEB_ENV", raising=False)
    upgrade_at(empty_database_url, AUDIT)
    engine, settings = app_settings_for(
        empty_database_url,
        **{"migrations.auto_upgrade": "true", "pyramid.reload_templates": "true"},
    )
    with caplog.at_level(logging.WARNING, logger="pypi_web.migrations.guard"):
        main({}, dbengine=engine, **settings)
    assert database_revision(empty_database_url) == head_revision()
    # It names the database it is about to change (without a password).
    shown = engine.url.render_as_string(hide_password=True)
    assert f"migrations.auto_upgrade: upgrading {shown} to head" in caplog.text


@pytest.mark.parametrize(
    ("reload_templates", "environment"),
    [("false", None), ("true", "production"), ("true", "staging")],
)
def test_auto_upgrade_is_refused_outside_development(
    migrated_database_url, app_settings_for, monkeypatch, reload_templates, environment
):
    if environment:
        monkeypatch.setenv("PYPI_WEB_ENV", environment)
    else:
        monkeypatch.delenv("PYPI_WEB_ENV", raising=False)
    engine, settings = app_settings_for(
        migrated_database_url,
        **{"migrations.auto_upgrade": "true", "pyramid.reload_templates": reload_templates},
    )
    with pytest.raises(ConfigurationError, match="auto_upgrade = true is for development only"):
        main({}, dbengine=engine, **settings)


def test_a_prefix_of_a_known_revision_is_not_that_revision(migrated_database_url):
    # Alembic resolves revision prefixes on the command line; the guard must not.
    execute(
        migrated_database_url, f"UPDATE alembic_version SET version_num = '{head_revision()[:4]}'"
    )
    engine = get_engine({"sqlalchemy.url": migrated_database_url})
    with engine.connect() as connection:
        assert schema_status(connection, script_directory()).state == "unknown"
    engine.dispose()


DROPS = "b22c0ffee002"
DROPS_SOURCE = """
\"\"\"A contract revision of newer code: drops a column this code maps.\"\"\"

import sqlalchemy as sa
from alembic import op

revision = "b22c0ffee002"
down_revision = "{head}"
branch_labels = None
depends_on = None
phase = "contract"


def upgrade():
    with op.batch_alter_table("packages") as batch_op:
        batch_op.drop_column("maintainer_email")


def downgrade():
    with op.batch_alter_table("packages") as batch_op:
        batch_op.add_column(sa.Column("maintainer_email", sa.Text, nullable=True))
"""


def test_a_newer_revision_that_drops_a_mapped_column_refuses_and_answers_503(
    data_database_url, app_settings_for, tmp_path
):
    """The issue's outage: this code serving while the next release drops a column it reads."""
    engine, settings = app_settings_for(data_database_url)
    app = webtest.TestApp(main({}, dbengine=engine, **settings))
    app.get("/_status/schema", status=200)
    newer_code = make_script_location(
        tmp_path, {"drops.py": DROPS_SOURCE.format(head=head_revision())}
    )
    upgrade_at(data_database_url, "head", script_location=newer_code)
    assert database_revision(data_database_url) == DROPS
    # Pages the running code can no longer build answer 503, never 500.
    page = app.get("/project/requests/", status=503)
    assert "The database refused this request" in page.text
    assert "maintainer_email" in page.text
    # The running app's status check sees the new revision and checks again.
    status = app.get("/_status/schema", status=503).json
    assert status["serves"] is False and status["state"] == "ahead"
    assert status["compatibility"]["problems"] == ["column packages.maintainer_email is missing"]
    assert "column packages.maintainer_email is missing" in status["reason"]
    # A restart of this code refuses, naming what is missing and what to do.
    with pytest.raises(SchemaMismatchError) as excinfo:
        main({}, dbengine=engine, **settings)
    message = str(excinfo.value)
    assert f"the database is at revision {DROPS}, newer than this code" in message
    assert "refusing to start" in message
    assert f"newer revisions:   {DROPS}" in message
    assert "    - column packages.maintainer_email is missing" in message
    assert f"Roll forward: deploy the code whose head is {DROPS}" in message
    assert f"downgrade {head_revision()}" in message


def test_code_waiting_for_held_back_revisions_refuses_and_names_the_post_deploy_step(
    empty_database_url, app_settings_for
):
    # Before the contract revision dc9196d0d27e: the pre-deploy step has nothing
    # to apply, and the expand revisions after it add columns this code maps.
    upgrade_at(empty_database_url, revision_before("dc9196d0d27e"))
    engine, settings = app_settings_for(empty_database_url)
    with pytest.raises(SchemaMismatchError) as excinfo:
        main({}, dbengine=engine, **settings)
    message = str(excinfo.value)
    assert "held back for the post-deploy step (dc9196d0d27e, 7d5fd834938e" in message
    assert "    - column releases.license_expression is missing" in message
    assert "-x contract=true upgrade head" in message
