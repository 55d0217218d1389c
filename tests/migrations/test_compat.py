"""The models against a live schema: what this code needs, and what it ignores."""

from __future__ import annotations

import sqlalchemy as sa

from pypi_web.migrations.compat import check_models


def models() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "packages",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text),
    )
    return metadata


def problems(*ddl: str) -> list[str]:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        for statement in ddl:
            connection.exec_driver_sql(statement)
        return check_models(connection, models()).problems


def test_extra_tables_and_nullable_or_defaulted_columns_are_ignored():
    assert (
        problems(
            "CREATE TABLE packages (id INTEGER PRIMARY KEY, name VARCHAR(300) NOT NULL, "
            "summary TEXT, stars INTEGER, rank INTEGER NOT NULL DEFAULT 0)",
            "CREATE TABLE newer (id INTEGER PRIMARY KEY)",
        )
        == []
    )


def test_missing_narrower_and_unfilled_columns_are_named():
    assert problems(
        "CREATE TABLE packages (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL, "
        "owner_id INTEGER NOT NULL)"
    ) == [
        "column packages.name is VARCHAR(20) in the database, shorter (at most 20 characters, "
        "the code writes up to 200) than the code's VARCHAR(200)",
        "column packages.summary is missing",
        "column packages.owner_id is NOT NULL without a server default, and this code does "
        "not fill it (its inserts would fail)",
    ]


def test_a_missing_table_and_another_kind_of_value():
    assert problems("CREATE TABLE other (id INTEGER PRIMARY KEY)") == ["table packages is missing"]
    found = problems("CREATE TABLE packages (id INTEGER PRIMARY KEY, name INTEGER, summary TEXT)")
    assert found == [
        "column packages.name is INTEGER in the database, a different kind of value than the "
        "code's VARCHAR(200)"
    ]
