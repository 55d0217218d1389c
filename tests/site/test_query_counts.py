"""Query discipline: each page issues a small, fixed number of SQL statements.

A page that loads related rows one by one (N+1) issues more statements the
more releases, files or classifiers a project has; these tests fail then.
The limits are the statements each page needs today, plus a little room.
"""

from __future__ import annotations

import datetime

import pytest

from pypi_web.models import Package, Release, ReleaseFile

from .. import factories

MAX_STATEMENTS = {
    "home": 4,  # counts, newest releases, newest packages
    "project": 7,  # package, roles+users, classifiers, releases, description, files
    "release": 7,
    "search": 6,
    "classifiers": 2,
}


# Transaction control is not a query: SQLite's explicit BEGIN (see
# pypi_web.models.use_explicit_sqlite_transactions) shows up only in the
# first request of a test's transaction, and Postgres' BEGIN is implicit.
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def queries(counter) -> list[str]:
    return [s for s in counter.statements if not s.lstrip().upper().startswith(TRANSACTION_CONTROL)]


def statements(testapp, count_queries, url: str) -> int:
    with count_queries() as counter:
        testapp.get(url, status=200)
    return len(queries(counter))


@pytest.mark.parametrize(
    ("page", "url"),
    [
        ("home", "/"),
        ("project", "/project/awscli/"),
        ("project", "/project/functools32/"),
        ("release", "/project/django/2.1a1/"),
        ("release", "/project/boto/0.8d/"),
        ("search", "/search/?q=flask"),
        ("classifiers", "/classifiers/"),
    ],
)
def test_page_statement_count_is_small(testapp, count_queries, page, url):
    count = statements(testapp, count_queries, url)
    assert 0 < count <= MAX_STATEMENTS[page], f"{url} issued {count} statements"


def test_project_page_count_does_not_grow_with_releases(testapp, count_queries):
    # awscli has 544 releases, functools32 3: the same number of statements.
    many = statements(testapp, count_queries, "/project/awscli/")
    few = statements(testapp, count_queries, "/project/functools32/")
    assert many == few
    assert statements(testapp, count_queries, "/project/awscli/1.0.0/") == few


def test_counts_do_not_grow_with_added_data(testapp, dbsession, count_queries):
    urls = ["/", "/project/flask/", "/project/flask/1.0.2/", "/classifiers/"]
    before = {url: statements(testapp, count_queries, url) for url in urls}

    flask = dbsession.query(Package).filter_by(normalized_name="flask").one()
    now = datetime.datetime.now(datetime.UTC)
    for n in range(200):
        version = f"2.{n}"
        release = Release(
            package=flask,
            version=version,
            canonical_version=version,
            sort_order=100 + n,
            created=now,
        )
        release.files = [
            ReleaseFile(
                filename=f"Flask-{version}-{tag}.whl",
                packagetype="bdist_wheel",
                size=1,
                sha256_digest=f"{n:032x}{i:032x}",
                upload_time=now,
                url=f"https://example.org/Flask-{version}-{tag}.whl",
            )
            for i, tag in enumerate(("py2", "py3", "cp36", "cp37"))
        ]
        dbsession.add(release)
    for n in range(50):
        factories.project(dbsession, f"filler-{n}", created=now)

    after = {url: statements(testapp, count_queries, url) for url in urls}
    assert after == before
    # The page really shows the new data: 228 releases now, 2.199 the latest.
    res = testapp.get("/project/flask/")
    assert len(res.html.select(".release-timeline li")) == 228
    assert res.html.select_one(".package-version").get_text() == "2.199"
