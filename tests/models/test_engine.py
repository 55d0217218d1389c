"""The engine set-up: SQLite's refused write lock is retried, not a 500."""

from __future__ import annotations

import pytest
from pyramid_retry import IRetryableError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from pypi_web.models import get_engine


def test_a_refused_sqlite_write_lock_is_marked_for_retry(tmp_path):
    engine = get_engine({"sqlalchemy.url": f"sqlite:///{tmp_path / 'locks.sqlite'}"})
    with engine.begin() as setup:
        setup.execute(text("CREATE TABLE t (x INTEGER)"))
    # Both read (shared lock), then both want to write: SQLite refuses the second at once.
    with engine.connect() as first, engine.connect() as second:
        first.execute(text("SELECT count(*) FROM t")).scalar()
        second.execute(text("SELECT count(*) FROM t")).scalar()
        first.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(OperationalError, match="database is locked") as refused:
            second.execute(text("INSERT INTO t VALUES (2)"))
        assert IRetryableError.providedBy(refused.value)
    engine.dispose()
