"""The journal's trigger tells listeners, on commit only, which projects changed."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, insert, make_url

from pypi_web.models import JOURNAL_CHANNEL, Base, JournalEntry


@pytest.fixture(params=["migrations", "create_all"])
def postgres_schema(request, postgres_factory) -> str:
    """A Postgres database at head, built by the revisions or by create_all: both have
    the trigger. (SQLite has no LISTEN: its page cache reads serials.)"""
    if request.param == "migrations":
        return request.getfixturevalue("migrated_postgres_url")
    url = postgres_factory.create("create_all")
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


def notifications_of(url: str, writes) -> list[str]:
    """The payloads a listener hears while ``writes(connection)`` runs and commits."""
    libpq_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {JOURNAL_CHANNEL}")
        engine = create_engine(url)
        writes(engine)
        engine.dispose()
        return [n.payload for n in listener.notifies(timeout=0.5)]


def journal_rows(*names: str) -> list[dict]:
    return [{"package_name": name, "action": "create"} for name in names]


def test_each_committed_statement_names_its_projects_once(postgres_schema):
    def writes(engine):
        with engine.begin() as connection:
            statement = insert(JournalEntry).values(journal_rows("Django", "Django", "numpy"))
            connection.execute(statement)
        with engine.begin() as connection:
            connection.execute(insert(JournalEntry).values(journal_rows("Flask")))
            connection.execute(insert(JournalEntry).values(journal_rows("Django")))

    payloads = notifications_of(postgres_schema, writes)
    assert [sorted(p.split("\n")) for p in payloads] == [["Django", "numpy"], ["Flask"], ["Django"]]


def test_a_rolled_back_write_tells_nobody(postgres_schema):
    def writes(engine):
        with engine.connect() as connection:
            connection.execute(insert(JournalEntry).values(journal_rows("ghost")))
            connection.rollback()

    assert notifications_of(postgres_schema, writes) == []


def test_a_bulk_load_says_everything(postgres_schema):
    def writes(engine):
        with engine.begin() as connection:
            connection.execute(
                insert(JournalEntry).values(journal_rows(*(f"bulk-{n}" for n in range(101))))
            )

    assert notifications_of(postgres_schema, writes) == ["*"]
