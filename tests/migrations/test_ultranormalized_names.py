"""The ultranormalized_name revision backfills the column, look-alikes already stored included."""

from __future__ import annotations

from .conftest import execute, query, upgrade_at

REVISION = "d2aa0b9946c6"
BEFORE = "75eaea371f22"


def test_backfill_gives_the_oldest_look_alike_the_name(database_factory):
    url = database_factory.create("ultranormalized")
    upgrade_at(url, BEFORE)
    # PyPI holds such pairs from before it checked: both must survive the upgrade.
    execute(
        url,
        "INSERT INTO packages (name, normalized_name, created) VALUES "
        "('fool1b', 'fool1b', '2020-01-01 00:00:00'), "
        "('Foo-Lib', 'foo-lib', '2010-01-01 00:00:00'), "
        "('six', 'six', '2011-01-01 00:00:00')",
    )
    upgrade_at(url, REVISION)
    rows = dict(query(url, "SELECT name, ultranormalized_name FROM packages"))
    assert rows == {"Foo-Lib": "f0011b", "fool1b": None, "six": "s1x"}
