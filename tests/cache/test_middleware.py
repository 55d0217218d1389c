"""The page cache: served again only while the serial is unchanged, never to a logged-in user."""

from __future__ import annotations

import gc
import threading
import time

import pytest
import webtest
from pyramid.exceptions import ConfigurationError
from sqlalchemy import create_engine, event, select, text

from pypi_web import main
from pypi_web.cache import LISTEN, QUERY, invalidation
from pypi_web.models import JournalEntry, Package, Release
from pypi_web.packaging.journal import journal

from .. import factories
from ..accounts.helpers import form_posting_to, log_in, page_text
from ..factories import DEMO_PROJECT

NAME = DEMO_PROJECT


def cache_state(response) -> str | None:
    return response.headers.get("X-Cache")


@pytest.mark.parametrize(
    "path",
    [
        f"/project/{NAME}/",
        f"/project/{NAME}/2.0/",
        f"/simple/{NAME}/",
        f"/pypi/{NAME}/json",
        f"/pypi/{NAME}/1.0/json",
        "/search/?q=cached",
        "/classifiers/",
    ],
)
def test_second_anonymous_view_is_the_same_page_from_the_cache(cached_testapp, project, path):
    first = cached_testapp.get(path, status=200)
    second = cached_testapp.get(path, status=200)
    assert (cache_state(first), cache_state(second)) == ("MISS", "HIT")
    assert second.body == first.body
    assert second.content_type == first.content_type
    # The outer tweens still dress a cached page: security headers, Vary.
    assert second.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert second.headers.get("Vary") == first.headers.get("Vary")
    assert second.headers.get("ETag") == first.headers.get("ETag")


def test_a_journalled_change_is_shown_at_once(cached_testapp, project, dbsession):
    cached_testapp.get(f"/project/{NAME}/")
    assert cache_state(cached_testapp.get(f"/project/{NAME}/")) == "HIT"
    project.summary = "Freshly summarised"
    journal(dbsession, project, "update summary")
    dbsession.flush()
    page = cached_testapp.get(f"/project/{NAME}/")
    assert cache_state(page) == "MISS"
    assert "Freshly summarised" in page.text


def test_yank_through_the_site_reaches_anonymous_pip_and_browsers(
    cached_testapp, project, dbsession
):
    """The whole path a user takes: pages cached, owner yanks, visitors see it."""
    anonymous = cached_testapp
    for path in (f"/simple/{NAME}/", f"/pypi/{NAME}/2.0/json", f"/project/{NAME}/2.0/"):
        anonymous.get(path)
        assert cache_state(anonymous.get(path)) == "HIT"

    owner = webtest.TestApp(anonymous.app, extra_environ=anonymous.extra_environ)
    log_in(owner, "owner")
    page = owner.get(f"/manage/project/{NAME}/")
    form = form_posting_to(page, f"/manage/project/{NAME}/release/2.0/yank/")
    form["reason"] = "Broken on Windows"
    form.submit(status=303)

    assert anonymous.get(f"/pypi/{NAME}/2.0/json").json["info"]["yanked_reason"] == (
        "Broken on Windows"
    )
    release_page = anonymous.get(f"/project/{NAME}/2.0/")
    assert cache_state(release_page) == "MISS"
    assert "Broken on Windows" in page_text(release_page)


def test_a_logged_in_user_neither_gets_nor_fills_the_cache(cached_testapp, project):
    anonymous_page = cached_testapp.get(f"/project/{NAME}/")
    assert cache_state(anonymous_page) == "MISS"
    log_in(cached_testapp, "owner")
    own_page = cached_testapp.get(f"/project/{NAME}/")
    assert cache_state(own_page) is None
    assert "owner" in page_text(own_page).split("Log out")[0]
    assert own_page.body != anonymous_page.body
    cached_testapp.reset()  # logged out: the anonymous copy is still the one kept
    again = cached_testapp.get(f"/project/{NAME}/")
    assert cache_state(again) == "HIT"
    assert again.body == anonymous_page.body


def test_conditional_and_non_get_requests_pass_through(cached_testapp, project):
    first = cached_testapp.get(f"/simple/{NAME}/")
    revalidation = cached_testapp.get(
        f"/simple/{NAME}/", headers={"If-None-Match": first.headers["ETag"]}, status=304
    )
    assert cache_state(revalidation) is None
    head = cached_testapp.head(f"/simple/{NAME}/", status=200)
    assert cache_state(head) is None


def test_representations_are_kept_apart(cached_testapp, project):
    html = cached_testapp.get(f"/simple/{NAME}/")
    as_json = cached_testapp.get(
        f"/simple/{NAME}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    assert cache_state(as_json) == "MISS"
    assert as_json.json["name"] == NAME
    assert cached_testapp.get(f"/simple/{NAME}/").body == html.body


def test_redirects_and_missing_projects_are_not_kept(cached_testapp, project):
    for _ in range(2):
        moved = cached_testapp.get("/project/Demo_Pkg/", status=301)
        assert cache_state(moved) is None
        missing = cached_testapp.get("/project/no-such-thing/", status=404)
        assert cache_state(missing) is None


def test_a_new_project_moves_the_index_pages_on(cached_testapp, project, dbsession):
    cached_testapp.get("/search/?q=zebrafish")
    assert "zebrafish-tools" not in cached_testapp.get("/search/?q=zebrafish").text
    package = factories.project(dbsession, "zebrafish-tools", summary="Zebrafish tools")
    journal(dbsession, package, "create")
    dbsession.flush()
    found = cached_testapp.get("/search/?q=zebrafish")
    assert cache_state(found) == "MISS"
    assert "/project/zebrafish-tools/" in found.text


def test_off_unless_configured(testapp, project):
    testapp.get(f"/project/{NAME}/")
    assert cache_state(testapp.get(f"/project/{NAME}/")) is None
    assert "page_cache" not in testapp.app.registry


def committed_project(make_session) -> None:
    with make_session() as session:
        package = factories.project(session, NAME, ["1.0"], files=False, summary="First words")
        journal(session, package, "create")
        session.commit()


_started: list[webtest.TestApp] = []


@pytest.fixture(autouse=True)
def _shut_down_server_processes():
    """A failed test leaves no listener behind (it would call on a dropped database)."""
    yield
    while _started:
        shut_down(_started.pop())


def server_process(
    database_url: str, app_settings: dict, invalidation: str | None = None
) -> webtest.TestApp:
    """The site as one server process runs it: its own engine, its own cache."""
    settings = {**app_settings, "sqlalchemy.url": database_url, "page_cache.max_bytes": "1000000"}
    if invalidation is not None:
        settings["page_cache.invalidation"] = invalidation
    process = webtest.TestApp(main({}, **settings), extra_environ={"HTTP_HOST": "localhost"})
    _started.append(process)
    listener = process.app.listener
    if listener is not None:
        listener.reconnect_delay = 0.05
        listener.token()  # starts it
        assert listener.connected.wait(10), "the listener did not connect"
    return process


def shut_down(process: webtest.TestApp) -> None:
    process.app.close()
    process.app.registry["dbengine"].dispose()


def invalidations(backend: str) -> list[str]:
    """What each backend can do: SQLite reads serials; Postgres can also listen."""
    return [QUERY] if backend == "sqlite" else [QUERY, LISTEN]


def heard(process: webtest.TestApp, since: int) -> None:
    """Wait until a listening process has heard a notification after generation ``since``."""
    deadline = time.monotonic() + 10
    while process.app.listener.generation == since:
        assert time.monotonic() < deadline, "no notification within 10 s"
        time.sleep(0.001)


def test_serials_are_read_from_the_database_of_each_process(
    backend, migrated_database_url, app_settings, session_factory_for
):
    """Two server processes, each with its own cache, on one committed database."""
    make_session = session_factory_for(migrated_database_url)
    committed_project(make_session)
    for mode in invalidations(backend):
        processes = [server_process(migrated_database_url, app_settings, mode) for _ in range(2)]
        for process in processes:
            process.get(f"/project/{NAME}/")
            assert cache_state(process.get(f"/project/{NAME}/")) == "HIT"
        generations = [p.app.listener.generation if p.app.listener else 0 for p in processes]
        with make_session() as session:
            package = session.scalars(select(Package).where(Package.name == NAME)).one()
            package.summary = f"Summary heard by {mode}"
            journal(session, package, "update summary")
            session.commit()
        for process, generation in zip(processes, generations, strict=True):
            if mode == LISTEN:
                heard(process, generation)
            changed = process.get(f"/project/{NAME}/")
            assert cache_state(changed) == "MISS"
            assert f"Summary heard by {mode}" in changed.text
            assert cache_state(process.get(f"/project/{NAME}/")) == "HIT"
            shut_down(process)


@pytest.mark.parametrize("path", [f"/project/{NAME}/", "/classifiers/"])
def test_a_broken_serial_connection_is_replaced(
    migrated_database_url, app_settings, session_factory_for, path
):
    """A connection lost under the cache (a database restart) costs one request a cache miss."""
    committed_project(session_factory_for(migrated_database_url))
    process = server_process(migrated_database_url, app_settings, QUERY)
    process.get(path)
    assert cache_state(process.get(path)) == "HIT"
    process.app.serials._local.held.dbapi_connection.close()
    # That request is answered by the site itself, without the cache...
    answered = process.get(path)
    assert answered.status_code == 200 and cache_state(answered) is None
    # ...and the next one reads the serial through a new connection.
    assert cache_state(process.get(path)) == "HIT"
    shut_down(process)


@pytest.fixture
def listening_database(migrated_postgres_url):
    """LISTEN/NOTIFY is Postgres'; SQLite's cache reads serials (tested above)."""
    return migrated_postgres_url


def other_project(make_session, name: str) -> None:
    with make_session() as session:
        package = factories.project(session, name, summary="Other things")
        journal(session, package, "create")
        session.commit()


def test_a_listening_process_serves_hits_without_a_query(
    listening_database, app_settings, session_factory_for, monkeypatch
):
    committed_project(session_factory_for(listening_database))
    process = server_process(listening_database, app_settings)
    statements = []
    event.listen(
        process.app.registry["dbengine"],
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: statements.append(statement),
    )

    def no_serial_query(*args):
        raise AssertionError("a serial was queried")

    monkeypatch.setattr(process.app.serials, "current", no_serial_query)
    for path in (f"/simple/{NAME}/", "/classifiers/"):
        assert cache_state(process.get(path)) == "MISS"
        assert statements  # the page itself was made from the database
        statements.clear()
        assert cache_state(process.get(path)) == "HIT"
        assert statements == []
    shut_down(process)


def test_a_change_drops_that_projects_pages_and_the_index_pages_only(
    listening_database, app_settings, session_factory_for
):
    make_session = session_factory_for(listening_database)
    committed_project(make_session)
    other_project(make_session, "bystander")
    process = server_process(listening_database, app_settings)
    paths = (f"/project/{NAME}/", "/simple/bystander/", "/search/?q=things")
    for path in paths:
        process.get(path)
    generation = process.app.listener.generation
    other_project(make_session, "newcomer")
    heard(process, generation)
    states = {path: cache_state(process.get(path)) for path in paths}
    assert states == {
        f"/project/{NAME}/": "HIT",
        "/simple/bystander/": "HIT",
        "/search/?q=things": "MISS",
    }
    with make_session() as session:
        package = session.scalars(select(Package).where(Package.name == "bystander")).one()
        generation = process.app.listener.generation
        journal(session, package, "yank release", version="1.0")
        session.commit()
    heard(process, generation)
    states = {path: cache_state(process.get(path)) for path in paths}
    assert states == {
        f"/project/{NAME}/": "HIT",
        "/simple/bystander/": "MISS",
        "/search/?q=things": "MISS",
    }
    shut_down(process)


def test_a_bulk_load_drops_every_page(listening_database, app_settings, session_factory_for):
    make_session = session_factory_for(listening_database)
    committed_project(make_session)
    process = server_process(listening_database, app_settings)
    process.get(f"/project/{NAME}/")
    generation = process.app.listener.generation
    # More projects than a notification names: it says "*" (everything).
    with make_session() as session:
        session.add_all(JournalEntry(package_name=f"bulk-{n}", action="create") for n in range(150))
        session.commit()
    heard(process, generation)
    assert cache_state(process.get(f"/project/{NAME}/")) == "MISS"
    shut_down(process)


def test_a_process_sees_its_own_writes_at_their_commit(
    listening_database, app_settings, session_factory_for, monkeypatch
):
    """Whoever uploads or yanks is answered by that process at once, notification or not."""
    committed_project(session_factory_for(listening_database))
    process = server_process(listening_database, app_settings)
    listener = process.app.listener
    process.get(f"/simple/{NAME}/")
    assert cache_state(process.get(f"/simple/{NAME}/")) == "HIT"
    # Notifications are not heard from here on: only the commit itself can tell.
    monkeypatch.setattr(listener, "apply", lambda payload: None)
    factory = process.app.registry["dbsession_factory"]
    with factory() as session:
        package = session.scalars(select(Package).where(Package.name == NAME)).one()
        session.add(Release(package=package, version="9.0", canonical_version="9", sort_order=1))
        journal(session, package, "new release", version="9.0")
        session.commit()
    assert cache_state(process.get(f"/simple/{NAME}/")) == "MISS"
    # A rolled-back write changes nothing.
    with factory() as session:
        package = session.scalars(select(Package).where(Package.name == NAME)).one()
        journal(session, package, "new release", version="10.0")
        session.rollback()
    assert cache_state(process.get(f"/simple/{NAME}/")) == "HIT"
    shut_down(process)


def test_a_lost_listener_falls_back_to_serials_and_listens_again(
    listening_database, app_settings, session_factory_for
):
    make_session = session_factory_for(listening_database)
    committed_project(make_session)
    process = server_process(listening_database, app_settings)
    listener = process.app.listener
    paths = (f"/project/{NAME}/", f"/pypi/{NAME}/json")
    for path in paths:
        process.get(path)
        assert cache_state(process.get(path)) == "HIT"
    with make_session() as session:
        session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
        )
    deadline = time.monotonic() + 10
    while listener.connected.is_set():
        assert time.monotonic() < deadline, "the listener did not notice"
        time.sleep(0.001)
    # Meanwhile a change is not heard: serials are read per request instead.
    with make_session() as session:
        package = session.scalars(select(Package).where(Package.name == NAME)).one()
        package.summary = "Changed while nobody listened"
        journal(session, package, "update summary")
        session.commit()
    assert "Changed while nobody listened" in process.get(paths[0]).text
    # Back, it assumes anything may have changed unheard, pages it never
    # served meanwhile included.
    assert listener.connected.wait(10)
    project_page = process.get(paths[0])
    assert cache_state(project_page) == "MISS"
    assert "Changed while nobody listened" in project_page.text
    json_page = process.get(paths[1])
    assert cache_state(json_page) == "MISS"
    with make_session() as session:
        serial = session.scalar(select(Package.last_serial).where(Package.name == NAME))
    assert json_page.json["last_serial"] == serial
    assert cache_state(process.get(paths[1])) == "HIT"
    shut_down(process)


def test_each_server_thread_keeps_one_serial_connection_until_it_ends(
    migrated_database_url, app_settings, session_factory_for
):
    committed_project(session_factory_for(migrated_database_url))
    process = server_process(migrated_database_url, app_settings, QUERY)
    serials = process.app.serials

    seen = []

    def serve_twice():
        seen.extend(cache_state(process.get(f"/project/{NAME}/")) for _ in range(2))
        seen.append(len(serials._held))

    thread = threading.Thread(target=serve_twice)
    thread.start()
    thread.join()
    gc.collect()
    # Two requests, one connection; it went with its thread.
    assert seen == ["MISS", "HIT", 1]
    assert len(serials._held) == 0
    process.get(f"/project/{NAME}/")
    process.get(f"/project/{NAME}/")
    assert len(serials._held) == 1
    shut_down(process)
    assert len(serials._held) == 0


def test_invalidation_setting():
    sqlite, postgres = create_engine("sqlite://"), create_engine("postgresql+psycopg://")
    assert invalidation(None, sqlite) == QUERY
    assert invalidation("", postgres) == LISTEN
    assert invalidation("query", postgres) == QUERY
    with pytest.raises(ConfigurationError, match="needs Postgres"):
        invalidation("listen", sqlite)
    with pytest.raises(ConfigurationError, match="must be 'listen' or 'query', not 'notify'"):
        invalidation("notify", postgres)
    # Joined to a connection's transaction (a test's), nothing is committed to be heard of.
    assert invalidation(None, postgres, joined=True) == QUERY
    with pytest.raises(ConfigurationError, match="joined to a connection"):
        invalidation("listen", postgres, joined=True)
