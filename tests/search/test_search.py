"""The search page against the top-100 data, on SQLite (FTS5) and Postgres (stored tsvectors)."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import event, func, select, update

from pypi_web.models import Classifier, Package, package_classifiers
from pypi_web.search.services import PAGE_SIZE, fts5_match_expression, parse_query

from .. import factories

MIT = "License :: OSI Approved :: MIT License"
PY3 = "Programming Language :: Python :: 3"


def names(res) -> list[str]:
    return [a.get_text() for a in res.html.select(".search-results .package-snippet-name")]


def count_text(res) -> str:
    return res.html.select_one(".search-count").get_text(" ", strip=True)


def with_classifiers(dbsession, *classifiers: str) -> set[str]:
    """Normalized names of the packages carrying every one of ``classifiers``."""
    found = None
    for classifier in classifiers:
        rows = dbsession.scalars(
            select(Package.normalized_name)
            .join(package_classifiers, package_classifiers.c.package_id == Package.id)
            .join(Classifier)
            .where(Classifier.classifier == classifier)
        )
        found = set(rows) if found is None else found & set(rows)
    return found


def all_pages(testapp, url: str) -> list[str]:
    """Every result's project URL, following the Next links."""
    links = []
    while url:
        res = testapp.get(url, status=200)
        links += [a["href"] for a in res.html.select(".search-results a.package-snippet")]
        following = res.html.select_one(".pagination a[rel=next]")
        url = following["href"] if following else None
    return links


# ---- relevance -------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("flask", "Flask"),
        ("Flask", "Flask"),
        ("requests", "requests"),
        ("python_dateutil", "python-dateutil"),
        ("Python Dateutil", "python-dateutil"),
        ("py", "py"),
    ],
)
def test_the_exact_name_comes_first(testapp, query, first):
    res = testapp.get("/search/", params={"q": query}, status=200)
    assert names(res)[0] == first


def test_name_prefix_matches_follow_the_exact_match_shortest_first(testapp, dbsession):
    res = testapp.get("/search/?q=py", status=200)
    found = names(res)
    expected_prefixed = set(
        dbsession.scalars(select(Package.name).where(Package.normalized_name.like("py%")))
    )
    assert len(expected_prefixed) > 3
    # Every project whose name starts with "py" is listed before any other hit.
    prefixed = found[: len(expected_prefixed)]
    assert set(prefixed) == expected_prefixed
    lengths = [len(n) for n in prefixed[1:]]
    assert lengths == sorted(lengths)


def test_a_summary_word_finds_packages(testapp):
    # "Python HTTP for Humans." is requests' summary; no name contains "humans".
    res = testapp.get("/search/?q=humans", status=200)
    assert names(res) == ["requests"]
    assert "1 project for" in count_text(res)


def test_every_word_must_match_and_words_are_stemmed(testapp):
    http = set(names(testapp.get("/search/?q=http", status=200)))
    assert {"requests", "urllib3", "httplib2", "gunicorn"} <= http
    both = names(testapp.get("/search/?q=HTTP+libraries", status=200))
    # "libraries" matches urllib3's "library" (stemming); requests says no such thing.
    assert "urllib3" in both and "httplib2" in both
    assert "requests" not in both


def test_no_hits(testapp):
    res = testapp.get("/search/?q=zzzqqqxxnotapackage", status=200)
    assert names(res) == []
    assert "No projects match" in count_text(res)
    assert res.html.select_one(".search-page a[href='/classifiers/']") is not None


def test_empty_query_shows_help(testapp):
    for url in ("/search/", "/search/?q=", "/search/?q=+++"):
        res = testapp.get(url, status=200)
        assert res.html.select_one(".search-help") is not None
        assert names(res) == []


# ---- pagination and classifiers -----------------------------------------


def test_classifier_browsing_is_complete_and_paginated(testapp, dbsession):
    expected = with_classifiers(dbsession, MIT)
    assert len(expected) > PAGE_SIZE  # more than one page in the top-100 data
    first = testapp.get("/search/", params={"c": MIT}, status=200)
    assert f"{len(expected)} projects" in count_text(first)
    assert len(names(first)) == PAGE_SIZE
    links = all_pages(testapp, f"/search/?c={MIT}")
    assert len(links) == len(links and set(links))  # no project on two pages
    assert {link.strip("/").split("/")[-1] for link in links} == expected


def test_classifiers_combine_with_and(testapp, dbsession):
    expected = with_classifiers(dbsession, MIT, PY3)
    assert 0 < len(expected) < len(with_classifiers(dbsession, MIT))
    links = all_pages(testapp, f"/search/?c={MIT}&c={PY3}")
    assert {link.strip("/").split("/")[-1] for link in links} == expected


def test_query_and_classifier_together(testapp, dbsession):
    http = set(names(testapp.get("/search/?q=http", status=200)))
    res = testapp.get("/search/", params={"q": "http", "c": MIT}, status=200)
    mit = {n for n in http if n.lower() in with_classifiers(dbsession, MIT)}
    assert set(names(res)) == mit
    # The filter is shown with a link that removes it and keeps the query.
    remove = res.html.select_one(".search-filter-remove")
    assert remove["href"] == "/search/?q=http"


def test_unknown_classifier_finds_nothing(testapp):
    res = testapp.get("/search/", params={"c": "License :: Not A Real One"}, status=200)
    assert names(res) == []
    assert "No projects" in count_text(res)


def test_page_past_the_end_says_where_results_end(testapp, dbsession):
    total = len(with_classifiers(dbsession, MIT))
    last = (total + PAGE_SIZE - 1) // PAGE_SIZE
    res = testapp.get("/search/", params={"c": MIT, "page": last + 3}, status=200)
    assert names(res) == []
    assert f"{total} projects" in count_text(res)
    assert res.html.find("a", string=f"page {last}") is not None


@pytest.mark.parametrize(
    "page", ["abc", "-1", "0", "1.5", "99999999999999999999999", "501", "\u0661"]
)
def test_bad_page_numbers_are_a_400_with_a_message(testapp, page):
    res = testapp.get("/search/", params={"q": "flask", "page": page}, status=400)
    assert "page number" in res.html.select_one(".search-error").get_text()


# ---- absurd input ---------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"flask',
        "*",
        "flask*",
        "name:flask",
        "(flask",
        "flask)",
        "'; DROP TABLE packages; --",
        "-flask",
        "NEAR(flask requests)",
        "flask AND",
        "^flask",
        "!!!&&&|||",
        "\u2603 \U0001f600",
        "a" * 900,
        " ".join(["word"] * 150),
        "%_%",
        "\\",
    ],
)
def test_query_syntax_is_never_interpreted(testapp, query):
    res = testapp.get("/search/", params={"q": query}, status=200)
    assert res.html.select_one(".search-page") is not None


def test_operators_are_plain_words(testapp):
    # As FTS syntax this would find Flask and Django; as words it needs "or" too.
    assert names(testapp.get("/search/?q=flask+OR+django", status=200)) == []
    assert "Flask" in names(testapp.get("/search/?q=flask*", status=200))


def test_long_punctuation_and_nul_are_refused_with_a_message(testapp):
    res = testapp.get("/search/", params={"q": "%" * 10_000}, expect_errors=True)
    assert res.status_int in (400, 414)
    res = testapp.get("/search/", params={"q": "'" * 1500}, status=400)
    assert "longer than" in res.text
    res = testapp.get("/search/", params={"q": "flask\x00"}, expect_errors=True)
    assert res.status_int == 400


def test_parse_query_quotes_every_term():
    query = parse_query('flask" OR *')
    assert query.terms == ("flask", "or")
    assert fts5_match_expression(query.terms) == '"flask" "or"'
    assert parse_query("Zope_Interface").name == "zope-interface"
    assert parse_query("a b c d e f g h i j k l").truncated


# ---- the index follows the data (triggers on both backends) ---------------


def stored_documents(dbsession, package_id: int) -> int | None:
    """Postgres: the package's rows in packages_search (None on SQLite: FTS5 stores no text)."""
    connection = dbsession.connection()
    if connection.dialect.name != "postgresql":
        return None
    rows = connection.exec_driver_sql(
        "SELECT count(*) FROM packages_search WHERE package_id = %(id)s", {"id": package_id}
    )
    return rows.scalar()


def new_package(dbsession, name: str, **columns) -> Package:
    now = datetime.datetime.now(datetime.UTC)
    return factories.project(dbsession, name, created=now, last_updated=now, **columns)


def test_index_follows_inserts_updates_and_deletes(testapp, dbsession):
    package = new_package(dbsession, "Quokka-Tools", summary="Marsupial utilities")
    assert stored_documents(dbsession, package.id) in (1, None)
    assert names(testapp.get("/search/?q=marsupial", status=200)) == ["Quokka-Tools"]
    assert names(testapp.get("/search/?q=quokka", status=200)) == ["Quokka-Tools"]

    package.summary = "Wombat helpers"
    dbsession.flush()
    assert names(testapp.get("/search/?q=marsupial", status=200)) == []
    assert names(testapp.get("/search/?q=wombat", status=200)) == ["Quokka-Tools"]

    package.keywords = "numbat termite"
    dbsession.flush()
    assert names(testapp.get("/search/?q=termite", status=200)) == ["Quokka-Tools"]
    package.keywords = "echidna"
    dbsession.flush()
    assert names(testapp.get("/search/?q=termite", status=200)) == []
    assert names(testapp.get("/search/?q=echidna", status=200)) == ["Quokka-Tools"]

    # A word of the name that no name starts with: found by the full-text tier only.
    package.name, package.normalized_name = "Bilby-Quoll", "bilby-quoll"
    dbsession.flush()
    assert names(testapp.get("/search/?q=quokka", status=200)) == []
    assert names(testapp.get("/search/?q=quoll", status=200)) == ["Bilby-Quoll"]

    # Other columns, and search columns set to the values they had, change nothing.
    dbsession.execute(
        update(Package)
        .where(Package.id == package.id)
        .values(description="Not indexed: quagga", summary=Package.summary, name=Package.name)
    )
    assert names(testapp.get("/search/?q=quagga", status=200)) == []
    assert names(testapp.get("/search/?q=wombat+echidna+quoll", status=200)) == ["Bilby-Quoll"]

    package_id = package.id
    dbsession.delete(package)
    dbsession.flush()
    assert names(testapp.get("/search/?q=wombat", status=200)) == []
    assert names(testapp.get("/search/?q=quoll", status=200)) == []
    # Postgres: the foreign key's ON DELETE CASCADE took the stored document.
    assert stored_documents(dbsession, package_id) in (0, None)


def test_a_word_in_the_name_outranks_the_same_word_in_the_summary_or_keywords(testapp, dbsession):
    # None of the names starts with "zorblax": all three are full-text matches.
    new_package(dbsession, "Alpha-Zorblax", summary="Tools")
    new_package(dbsession, "Beta-Tools", summary="Zorblax helpers for zorblax users of the zorblax")
    new_package(dbsession, "Gamma-Tools", summary="Helpers", keywords="zorblax zorblax zorblax")
    found = names(testapp.get("/search/?q=zorblax", status=200))
    assert found[0] == "Alpha-Zorblax"
    assert set(found) == {"Alpha-Zorblax", "Beta-Tools", "Gamma-Tools"}


def test_postgres_stores_every_package_s_current_document(dbsession):
    """Filled by the migration's backfill and the trigger (the import inserts and updates)."""
    from pypi_web.models.search import pg_document

    connection = dbsession.connection()
    if connection.dialect.name != "postgresql":
        pytest.skip("the stored documents are Postgres' (SQLite has its FTS5 table)")
    new_package(dbsession, "Late-Comer", summary="Inserted by the test", keywords="k")
    stale = connection.exec_driver_sql(
        "SELECT packages.name FROM packages "
        "LEFT JOIN packages_search ON packages_search.package_id = packages.id "
        f"WHERE packages_search.document IS DISTINCT FROM {pg_document('packages')}"
    )
    assert stale.all() == []
    count = connection.exec_driver_sql("SELECT count(*) FROM packages_search").scalar()
    assert count == dbsession.scalar(select(func.count()).select_from(Package))


# ---- statements and plans -------------------------------------------------


def test_a_search_page_is_one_statement(testapp, count_queries):
    with count_queries() as counter:
        testapp.get("/search/?q=flask", status=200)
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    statements = [s for s in counter.statements if not s.lstrip().upper().startswith(control)]
    assert len(statements) == 1, statements


@pytest.mark.parametrize(
    "url",
    [
        "/search/?q=flask",
        "/search/?q=http+client",
        f"/search/?q=http&c={MIT}",
        f"/search/?c={MIT}&c={PY3}",
        f"/search/?c={MIT}&page=9",
    ],
)
def test_search_statements_use_indexes(testapp, dbsession, dbengine, url):
    connection = dbsession.connection()
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    recorded = []

    def record(conn, cursor, statement, parameters, context, executemany):
        recorded.append((statement, parameters))

    event.listen(dbengine, "before_cursor_execute", record)
    try:
        testapp.get(url, status=200)
    finally:
        event.remove(dbengine, "before_cursor_execute", record)
    selects = [(s, p) for s, p in recorded if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert selects
    tables = ("packages", "releases", "classifiers", "package_classifiers")
    for statement, parameters in selects:
        if postgres:
            plan = [r[0] for r in connection.exec_driver_sql("EXPLAIN " + statement, parameters)]
            assert not [line for line in plan if "Seq Scan" in line], plan
            if "q=" in url:
                # The stored documents, not an expression on packages...
                assert "packages_search" in " ".join(plan), plan
            if "q=" in url and "c=" not in url:
                # ...through their GIN index (with a classifier, the planner may
                # rather check the classifier's few packages' documents by key).
                assert [
                    line for line in plan if "Index Scan on ix_packages_search_document" in line
                ], "\n".join(plan)
        else:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            plan = [row[-1] for row in rows]
            scans = [d for d in plan if d.split(" ")[:2] in (["SCAN", t] for t in tables)]
            scans = [d for d in scans if "INDEX" not in d]
            assert not scans, plan


def test_sqlite_search_index_has_a_row_per_package(dbsession):
    if dbsession.connection().dialect.name != "sqlite":
        pytest.skip("the FTS5 table exists on SQLite only")
    packages = dbsession.scalar(select(func.count()).select_from(Package))
    indexed = dbsession.connection().exec_driver_sql("SELECT count(*) FROM packages_search_docsize")
    assert indexed.scalar() == packages


def test_head_keeps_the_search_index_in_sync(migrated_database_url, session_factory_for):
    """A later revision that recreates packages on SQLite (batch mode) would drop the
    triggers with the old table; at head they must exist and work (on Postgres too)."""
    from pypi_web.models.search import PG_TRIGGER, SQLITE_TRIGGER_NAMES
    from pypi_web.search.services import search

    session = session_factory_for(migrated_database_url)()
    with session:
        if session.connection().dialect.name == "sqlite":
            triggers = session.connection().exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            )
            assert set(SQLITE_TRIGGER_NAMES) <= {row[0] for row in triggers}
        else:
            triggers = session.connection().exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'packages'::regclass"
            )
            assert PG_TRIGGER in {row[0] for row in triggers}
        now = datetime.datetime.now(datetime.UTC)
        factories.project(session, "numbat", summary="Termite eater", created=now, last_updated=now)
        assert [h.name for h in search(session, parse_query("termite"), []).hits] == ["numbat"]
        session.rollback()
