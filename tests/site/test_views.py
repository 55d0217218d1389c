"""The home, about, classifier-browsing and error pages, and the shared layout."""

from __future__ import annotations

import datetime
import logging

import pytest
from sqlalchemy.exc import OperationalError

from pypi_web.models import Package, Release
from pypi_web.site import services as site_services

from .. import factories


def test_home_shows_counts(testapp):
    res = testapp.get("/", status=200)
    stats = res.html.select_one(".stats-bar").get_text(" ", strip=True)
    assert stats == "96 projects 5,547 releases 19,160 files 0 users"


def test_home_lists_newest_releases(testapp):
    res = testapp.get("/")
    section = res.html.select_one("#new-releases").parent
    first = section.select_one(".package-snippet")
    assert first["href"] == "/project/awscli/1.15.30/"
    assert first.select_one(".package-snippet-name").get_text() == "awscli"
    assert first.select_one(".package-snippet-version").get_text() == "1.15.30"
    assert first.select_one(".package-snippet-summary").get_text() == (
        "Universal Command Line Environment for AWS."
    )
    date = first.select_one("time")
    assert date["datetime"] == "2018-05-31T01:44:52+00:00"
    assert date.get_text() == "May 31, 2018"
    assert len(section.select(".package-snippet")) == 10


def test_home_newest_release_appears_first(testapp, dbsession):
    flask = dbsession.query(Package).filter_by(normalized_name="flask").one()
    dbsession.add(
        Release(
            package=flask,
            version="9.9",
            canonical_version="9.9",
            sort_order=99,
            created=datetime.datetime.now(datetime.UTC),
        )
    )
    dbsession.flush()
    first = testapp.get("/").html.select_one("#new-releases").parent.select_one(".package-snippet")
    assert first["href"] == "/project/flask/9.9/"


def test_home_lists_newest_projects(testapp, dbsession):
    factories.project(
        dbsession, "Brand_New", summary="Just made", created=datetime.datetime.now(datetime.UTC)
    )
    section = testapp.get("/").html.select_one("#new-packages").parent
    first = section.select_one(".package-snippet")
    assert first["href"] == "/project/brand-new/"
    assert first.select_one(".package-snippet-name").get_text() == "Brand_New"
    assert "Just made" in first.get_text()


def test_about_page_explains_pip_twine_and_json(testapp):
    res = testapp.get("/about/", status=200)
    text = res.html.select_one("main").get_text(" ", strip=True)
    assert "pip install --index-url http://localhost/simple/ <name>" in text
    assert "twine upload --repository-url http://localhost/legacy/ dist/*" in text
    assert "http://localhost/pypi/<name>/json" in text


def test_classifiers_page_counts_packages(testapp):
    res = testapp.get("/classifiers/", status=200)
    groups = {g.select_one("h2").get_text(): g for g in res.html.select(".classifier-group")}
    assert list(groups) == ["License", "Programming Language"]
    rows = {
        li.select_one("a").get_text(): (
            li.select_one("a")["href"],
            li.select_one(".count").get_text(),
        )
        for li in groups["License"].select("li")
    }
    assert rows["OSI Approved :: BSD License"] == (
        "/search/?c=License+%3A%3A+OSI+Approved+%3A%3A+BSD+License",
        "27 projects",
    )
    assert rows["OSI Approved :: MIT License"][1] == "33 projects"
    languages = groups["Programming Language"].get_text()
    assert "Python :: 3.6" in languages
    # Only the two browsable trees are listed.
    assert "Topic" not in " ".join(rows)
    assert "Web Environment" not in res.text


def test_404_page_uses_the_layout(testapp):
    res = testapp.get("/no/such/page/", status=404)
    assert res.html.select_one(".site-header") is not None
    assert res.html.select_one(".site-footer") is not None
    assert res.html.find("title").get_text() == "Page not found (404) · pypi_web"
    # Pyramid's own message for an unmatched URL is not shown to users.
    assert "predicate" not in res.text.lower()


def test_missing_trailing_slash_redirects(testapp):
    assert testapp.get("/about", status=301).headers["Location"] == "http://localhost/about/"
    res = testapp.get("/classifiers?x=1", status=301)
    assert res.headers["Location"] == "http://localhost/classifiers/?x=1"
    # A POST keeps its method and body: 308, not 301.
    assert testapp.post("/about", status=308).headers["Location"] == "http://localhost/about/"
    testapp.get("/no-such-thing", status=404)


def test_500_page_hides_the_error_and_logs_it(testapp, monkeypatch, caplog, count_queries):
    def broken(dbsession):
        raise OperationalError("SELECT secret_column", {}, Exception("database is gone"))

    monkeypatch.setattr(site_services, "site_stats", broken)
    with caplog.at_level(logging.ERROR, logger="pypi_web.site.views"), count_queries() as queries:
        res = testapp.get("/", status=500)
    assert res.html.select_one(".site-header") is not None
    assert res.html.select_one(".error-code").get_text() == "500"
    for leak in ("secret_column", "database is gone", "Traceback", "OperationalError"):
        assert leak not in res.text
    # Rendering the error page needs no database at all.
    assert queries.count == 0
    record = next(r for r in caplog.records if r.name == "pypi_web.site.views")
    assert "GET /" in record.getMessage()
    assert record.exc_info[0] is OperationalError


def test_favicon(testapp):
    res = testapp.get("/favicon.ico", status=301)
    assert res.headers["Location"].endswith("/static/favicon.svg")
    svg = testapp.get("/static/favicon.svg", status=200)
    assert svg.content_type == "image/svg+xml"


@pytest.mark.parametrize("url", ["/", "/about/", "/classifiers/", "/project/flask/"])
def test_layout_on_every_page(testapp, url):
    res = testapp.get(url, status=200)
    html = res.html
    assert html.find("meta", attrs={"name": "viewport"}) is not None
    assert html.find("link", rel="stylesheet")["href"] == "/static/css/site.css"
    assert html.find("link", rel="icon")["href"] == "/static/favicon.svg"
    search = html.select_one("form.header-search")
    assert search["action"] == "/search/" and search.find("input")["name"] == "q"
    nav = {a.get_text(): a["href"] for a in html.select(".site-nav a")}
    assert nav["Browse"] == "/classifiers/" and nav["About"] == "/about/"
    # The Content-Security-Policy forbids inline scripts and styles.
    assert html.find("script") is None and html.find("style") is None
    assert not html.select("[style]")


def test_stylesheet_is_served(testapp):
    css = testapp.get("/static/css/site.css", status=200)
    assert "@media (max-width" in css.text
    # Works offline: nothing imported or fetched from elsewhere.
    assert "@import" not in css.text
    assert "url(" not in css.text


def test_no_slash_redirect_for_static_files(testapp):
    testapp.get("/static/css/no-such-file.css", status=404)
