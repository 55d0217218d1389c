"""The page cache: served again only while the serial is unchanged, never to a logged-in user."""

from __future__ import annotations

import gc
import threading

import pytest
import webtest
from sqlalchemy import select

from pypi_web import main
from pypi_web.legacy.services import journal
from pypi_web.models import OWNER, Package, Release, Role
from pypi_web.page_cache import CachedPage, PageCache

from .accounts.helpers import form_posting_to, log_in, page_text

NAME = "cached-pkg"


def cache_state(response) -> str | None:
    return response.headers.get("X-Cache")


@pytest.fixture
def project(dbsession, make_user):
    """A project owned by "owner", with releases 1.0 and 2.0."""
    owner = make_user("owner")
    package = Package(name=NAME, normalized_name=NAME, summary="Cached things", last_serial=0)
    dbsession.add(package)
    dbsession.flush()
    for order, version in enumerate(("1.0", "2.0")):
        dbsession.add(
            Release(package=package, version=version, canonical_version=version, sort_order=order)
        )
    dbsession.add(Role(user=owner, package=package, role_name=OWNER))
    journal(dbsession, package, "create")
    dbsession.flush()
    return package


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
        moved = cached_testapp.get("/project/Cached_Pkg/", status=301)
        assert cache_state(moved) is None
        missing = cached_testapp.get("/project/no-such-thing/", status=404)
        assert cache_state(missing) is None


def test_a_new_project_moves_the_index_pages_on(cached_testapp, project, dbsession):
    cached_testapp.get("/search/?q=zebrafish")
    assert "zebrafish-tools" not in cached_testapp.get("/search/?q=zebrafish").text
    package = Package(
        name="zebrafish-tools", normalized_name="zebrafish-tools", summary="Zebrafish tools"
    )
    dbsession.add(package)
    dbsession.flush()
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
        package = Package(name=NAME, normalized_name=NAME, summary="First words", last_serial=0)
        session.add(package)
        session.add(Release(package=package, version="1.0", canonical_version="1", sort_order=0))
        session.flush()
        journal(session, package, "create")
        session.commit()


def server_process(database_url: str, app_settings: dict) -> webtest.TestApp:
    """The site as one server process runs it: its own engine, its own cache."""
    settings = {**app_settings, "sqlalchemy.url": database_url}
    return webtest.TestApp(
        main({}, **settings, **{"page_cache.max_bytes": "1000000"}),
        extra_environ={"HTTP_HOST": "localhost"},
    )


def shut_down(process: webtest.TestApp) -> None:
    process.app.serials.dispose()
    process.app.registry["dbengine"].dispose()


def test_serials_are_read_from_the_database_of_each_process(
    migrated_database_url, app_settings, session_factory_for
):
    """Two server processes, each with its own cache, on one committed database."""
    make_session = session_factory_for(migrated_database_url)
    committed_project(make_session)
    processes = [server_process(migrated_database_url, app_settings) for _ in range(2)]
    for process in processes:
        process.get(f"/project/{NAME}/")
        assert cache_state(process.get(f"/project/{NAME}/")) == "HIT"
    with make_session() as session:
        package = session.scalars(select(Package).where(Package.name == NAME)).one()
        package.summary = "Second words"
        journal(session, package, "update summary")
        session.commit()
    for process in processes:
        changed = process.get(f"/project/{NAME}/")
        assert cache_state(changed) == "MISS"
        assert "Second words" in changed.text and "First words" not in changed.text
        shut_down(process)


@pytest.mark.parametrize("path", [f"/project/{NAME}/", "/classifiers/"])
def test_a_broken_serial_connection_is_replaced(
    migrated_database_url, app_settings, session_factory_for, path
):
    """A connection lost under the cache (a database restart) costs one request a cache miss."""
    committed_project(session_factory_for(migrated_database_url))
    process = server_process(migrated_database_url, app_settings)
    process.get(path)
    assert cache_state(process.get(path)) == "HIT"
    process.app.serials._local.held.dbapi_connection.close()
    # That request is answered by the site itself, without the cache...
    answered = process.get(path)
    assert answered.status_code == 200 and cache_state(answered) is None
    # ...and the next one reads the serial through a new connection.
    assert cache_state(process.get(path)) == "HIT"
    shut_down(process)


def page(body: bytes, dependency=("project", 1, 1), expires=None) -> CachedPage:
    return CachedPage(dependency, expires, "200 OK", (), body)


def test_cache_is_bounded_in_bytes_least_recently_used_out():
    cache = PageCache(max_bytes=160_000)
    body = b"x" * 3000
    for n in range(5):
        cache.put(("page", n), page(body))
    assert cache.get(("page", 0), ("project", 1, 1)) is not None  # now the most recent
    for n in range(5, 40):
        cache.put(("page", n), page(body))
    assert len(cache) < 40
    assert cache.size_bytes <= 160_000
    assert cache.get(("page", 1), ("project", 1, 1)) is None
    assert cache.get(("page", 0), ("project", 1, 1)) is None  # used, but long ago
    assert cache.get(("page", 39), ("project", 1, 1)) is not None
    # One page may not take more than a sixteenth of the whole.
    cache.put(("huge",), page(b"x" * 10_000))
    assert cache.get(("huge",), ("project", 1, 1)) is None


def test_entries_answer_only_for_their_serial_and_until_they_expire(monkeypatch):
    import pypi_web.page_cache as page_cache

    now = [1000.0]
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: now[0])
    cache = PageCache(max_bytes=100_000)
    cache.put(("home",), page(b"home", dependency=("index", 7), expires=1060.0))
    assert cache.get(("home",), ("index", 8)) is None
    assert cache.get(("home",), ("index", 7)).body == b"home"
    now[0] = 1060.0
    assert cache.get(("home",), ("index", 7)) is None


def test_each_server_thread_keeps_one_serial_connection_until_it_ends(
    migrated_database_url, app_settings, session_factory_for
):
    committed_project(session_factory_for(migrated_database_url))
    process = server_process(migrated_database_url, app_settings)
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
