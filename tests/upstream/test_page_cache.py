"""Upstream pages through the page cache: kept until their TTL, gone at a local upload."""

from __future__ import annotations

import datetime
import time

import pytest
import webtest

from pypi_web import main
from pypi_web.cache import middleware, store
from pypi_web.models import UpstreamProject
from pypi_web.packaging.journal import journal
from pypi_web.upstream import services

from .. import factories
from ..cache.test_middleware import heard, shut_down
from ..conftest import _upstream_app, client_in_transaction

V1_JSON = "application/vnd.pypi.simple.v1+json"
NAME = "mirrored-kept"


@pytest.fixture
def cached_upstream(db_transaction, app_settings, fake_upstream, tmp_path, dbsession):
    """The app behind the page cache, its upstream copies fresh for an hour."""
    app = _upstream_app(
        db_transaction,
        app_settings,
        fake_upstream,
        tmp_path,
        **{"page_cache.max_bytes": str(4 * 1024 * 1024), "upstream.ttl_seconds": "3600"},
    )
    yield client_in_transaction(app, dbsession)
    app.close()


def row(dbsession, name: str = NAME) -> UpstreamProject:
    return dbsession.query(UpstreamProject).filter_by(normalized_name=name).one()


def filled(client, headers: dict):
    """The page fetched (the first request: no row yet to depend on) then kept (the second)."""
    assert "X-Cache" not in client.get(f"/simple/{NAME}/", headers=headers).headers
    made = client.get(f"/simple/{NAME}/", headers=headers)
    assert made.headers["X-Cache"] == "MISS"
    return made


@pytest.mark.parametrize("headers", [{}, {"Accept": V1_JSON}], ids=["html", "json"])
def test_an_upstream_page_is_served_from_the_cache_without_the_app(
    cached_upstream, fake_upstream, monkeypatch, headers
):
    fake_upstream.add_wheel(NAME, "1.0")
    made = filled(cached_upstream, headers)

    def not_asked(*args, **kwargs):
        raise AssertionError("the app ran for a cached page")

    monkeypatch.setattr(services, "project_page", not_asked)
    fake_upstream.stop()
    hit = cached_upstream.get(f"/simple/{NAME}/", headers=headers)
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.body == made.body
    assert hit.content_type == made.content_type
    assert hit.headers["ETag"] == made.headers["ETag"]
    assert hit.headers["X-PyPI-Web-Upstream-State"] == "fresh"
    assert hit.headers.getall("Age") == [hit.headers["Age"]]


def test_a_kept_page_says_its_age_as_served(cached_upstream, fake_upstream, monkeypatch):
    fake_upstream.add_wheel(NAME, "1.0")
    filled(cached_upstream, {})
    later = time.time() + 120
    monkeypatch.setattr(middleware.time, "time", lambda: later)
    hit = cached_upstream.get(f"/simple/{NAME}/")
    assert hit.headers["X-Cache"] == "HIT"
    assert 120 <= int(hit.headers["Age"]) <= 125


def test_a_revalidated_row_replaces_the_kept_page(cached_upstream, fake_upstream, dbsession):
    fake_upstream.add_wheel(NAME, "1.0")
    filled(cached_upstream, {"Accept": V1_JSON})
    # Another process revalidated it, and the upstream had a new release.
    fake_upstream.add_wheel(NAME, "2.0")
    cached = row(dbsession)
    cached.fetched_at -= datetime.timedelta(hours=2)
    dbsession.flush()
    again = cached_upstream.get(f"/simple/{NAME}/", headers={"Accept": V1_JSON})
    assert again.headers["X-Cache"] == "MISS"
    assert again.json["versions"] == ["1.0", "2.0"]


def test_a_local_upload_under_the_name_wins_at_once(cached_upstream, fake_upstream, dbsession):
    fake_upstream.add_wheel(NAME, "1.0")
    filled(cached_upstream, {"Accept": V1_JSON})
    cached_upstream.get(f"/simple/{NAME}/")  # the HTML page kept too
    assert cached_upstream.get(f"/simple/{NAME}/").headers["X-Cache"] == "HIT"
    package = factories.project(dbsession, NAME, ["9.0"])
    journal(dbsession, package, "new release 9.0")
    dbsession.flush()
    for headers in ({"Accept": V1_JSON}, {}):
        page = cached_upstream.get(f"/simple/{NAME}/", headers=headers)
        assert page.headers["X-Cache"] == "MISS"
        assert "X-PyPI-Web-Upstream" not in page.headers
        assert "9.0" in page.text and "1.0-py3" not in page.text


def test_an_upstream_page_answers_if_none_match_with_304(upstream_testapp, fake_upstream):
    fake_upstream.add_wheel(NAME, "1.0")
    for headers in ({}, {"Accept": V1_JSON}):
        page = upstream_testapp.get(f"/simple/{NAME}/", headers=headers)
        etag = page.headers["ETag"]
        unchanged = upstream_testapp.get(
            f"/simple/{NAME}/", headers={**headers, "If-None-Match": etag}, status=304
        )
        assert unchanged.headers["ETag"] == etag
        assert "Age" in unchanged.headers
    html, as_json = (
        upstream_testapp.get(f"/simple/{NAME}/", headers=h).headers["ETag"]
        for h in ({}, {"Accept": V1_JSON})
    )
    assert html != as_json
    fake_upstream.add_wheel(NAME, "2.0")  # a new upstream ETag
    changed = upstream_testapp.get(
        f"/simple/{NAME}/", headers={"Accept": V1_JSON, "If-None-Match": as_json}, status=200
    )
    assert changed.headers["ETag"] != as_json


def test_the_mirrored_project_page_asks_the_json_api_once_while_fresh(
    cached_upstream, fake_upstream
):
    fake_upstream.add_wheel(NAME, "1.0")
    cached_upstream.get(f"/simple/{NAME}/")  # cached by an install
    first = cached_upstream.get(f"/project/{NAME}/")
    second = cached_upstream.get(f"/project/{NAME}/")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.body == first.body
    assert fake_upstream.requests.count(f"/pypi/{NAME}/json") == 1


def test_a_copy_is_kept_until_it_goes_stale_without_its_age():
    copy = store.UpstreamCopy(fetched_at=1000.0, fresh_for=30, on_hit=(("X-State", "fresh"),))
    headers = [("Age", "5"), ("X-State", "fetched"), ("ETag", '"e"')]
    before = time.monotonic()
    kept = middleware._kept(("project", None, None, "t"), None, "200 OK", headers, b"x", copy)
    assert before + 30 <= kept.expires <= time.monotonic() + 30
    assert kept.headerlist == (("ETag", '"e"'), ("X-State", "fresh"))
    assert kept.fetched_at == 1000.0
    shorter = middleware._kept(("project",), 10, "200 OK", headers, b"x", copy)
    assert shorter.expires <= time.monotonic() + 10


def test_a_listening_process_drops_an_upstream_page_at_a_local_upload(
    migrated_postgres_url, app_settings, session_factory_for, fake_upstream, tmp_path
):
    # Postgres' default: hits check what the listener heard, not a serial.
    make_session = session_factory_for(migrated_postgres_url)
    fake_upstream.add_wheel(NAME, "1.0")
    settings = {
        **app_settings,
        "sqlalchemy.url": migrated_postgres_url,
        "page_cache.max_bytes": "1000000",
        "files.storage_dir": str(tmp_path / "files"),
        "pypi_web.upstreams": fake_upstream.simple,
        "upstream.ttl_seconds": "3600",
    }
    process = webtest.TestApp(main({}, **settings), extra_environ={"HTTP_HOST": "localhost"})
    try:
        process.app.listener.token()  # starts it
        assert process.app.listener.connected.wait(10), "the listener did not connect"
        assert process.get(f"/simple/{NAME}/").headers["X-Cache"] == "MISS"
        assert process.get(f"/simple/{NAME}/").headers["X-Cache"] == "HIT"
        generation = process.app.listener.generation
        with make_session() as session:
            package = factories.project(session, NAME, ["9.0"])
            journal(session, package, "new release 9.0")
            session.commit()
        heard(process, generation)
        page = process.get(f"/simple/{NAME}/")
        assert page.headers["X-Cache"] == "MISS"
        assert "9.0" in page.text and "X-PyPI-Web-Upstream" not in page.headers
    finally:
        shut_down(process)
