"""Every statement the pages issue is served by an index, on both backends.

Each page's statements are recorded with their parameters and explained on
the same connection. SQLite: no plan step may be a plain ``SCAN <table>``
(a full table scan; ``SCAN ... USING [COVERING] INDEX`` is an index walk).
Postgres prefers sequential scans on small tables whatever the indexes, so
``enable_seqscan`` is turned off for the test's transaction: a ``Seq Scan``
left in a plan then means no index could serve that step.
"""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event

PAGES = [
    "/",
    "/project/flask/",
    "/project/django/2.1a1/",
    "/classifiers/",
]


@contextlib.contextmanager
def recording(engine):
    recorded: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        recorded.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield recorded
    finally:
        event.remove(engine, "before_cursor_execute", record)


def full_scans(connection, statement: str, parameters) -> list[str]:
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        details = [row[-1] for row in rows]
        return [
            d
            for d in details
            if d.startswith("SCAN ") and "INDEX" not in d and d != "SCAN CONSTANT ROW"
        ]
    lines = [row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)]
    return [line for line in lines if "Seq Scan" in line]


@pytest.mark.parametrize("url", PAGES)
def test_page_statements_use_indexes(testapp, dbsession, dbengine, url):
    connection = dbsession.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    with recording(dbengine) as recorded:
        testapp.get(url, status=200)
    selects = [(s, p) for s, p in recorded if s.lstrip().upper().startswith("SELECT")]
    assert selects
    problems = {s: scans for s, p in selects if (scans := full_scans(connection, s, p))}
    assert not problems, problems
