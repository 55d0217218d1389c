"""The engine set-up: SQLite writers queue for the write lock; a refused lock is retried."""

from __future__ import annotations

import threading
import time

import pytest
import transaction
from pyramid.config import Configurator
from pyramid.request import Request, apply_request_extensions
from pyramid_retry import IRetryableError
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from pypi_web.models import Classifier, get_engine, writer_engine


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


def test_writers_on_sqlite_take_the_write_lock_first_and_queue(tmp_path):
    """Two read-then-write transactions at once both commit: the second waits its turn."""
    engine = get_engine({"sqlalchemy.url": f"sqlite:///{tmp_path / 'queue.sqlite'}"})
    with engine.begin() as setup:
        setup.execute(text("CREATE TABLE t (x INTEGER)"))
    writers = writer_engine(engine)
    first_has_read = threading.Event()
    errors: list[BaseException] = []

    def write(value: int, hold: float) -> None:
        try:
            with writers.begin() as conn:
                conn.execute(text("SELECT count(*) FROM t")).scalar()
                first_has_read.set()
                time.sleep(hold)  # the other writer arrives while this one holds its read
                conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})
        except BaseException as exc:
            errors.append(exc)

    first = threading.Thread(target=write, args=(1, 0.3))
    first.start()
    first_has_read.wait(5)
    second = threading.Thread(target=write, args=(2, 0.0))
    second.start()
    first.join()
    second.join()
    assert errors == []
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT x FROM t")).scalars()) == [1, 2]
    engine.dispose()


@pytest.mark.parametrize(("method", "begin"), [("GET", "BEGIN"), ("POST", "BEGIN IMMEDIATE")])
def test_a_request_that_may_write_begins_immediate_on_sqlite(tmp_path, method, begin):
    engine = get_engine({"sqlalchemy.url": f"sqlite:///{tmp_path / 'requests.sqlite'}"})
    statements: list[str] = []
    event.listen(
        engine, "before_cursor_execute", lambda conn, cursor, sql, *args: statements.append(sql)
    )
    with Configurator(settings={"dbengine": engine}) as config:
        config.include("pypi_web.models")
    request = Request.blank("/", method=method)
    request.registry = config.registry
    apply_request_extensions(request)
    request.tm = transaction.TransactionManager(explicit=True)
    request.tm.begin()
    request.dbsession.execute(text("SELECT 1"))
    request.tm.abort()
    assert statements[:2] == [begin, "SELECT 1"]
    engine.dispose()


def _request_on(registry, method: str):
    request = Request.blank("/", method=method)
    request.registry = registry
    apply_request_extensions(request)
    request.tm = transaction.TransactionManager(explicit=True)
    return request


def test_requests_on_a_given_connection_commit_savepoints_in_its_transaction(
    migrated_database_url,
):
    """settings' ``dbconnection``: each request's commit is a savepoint; the caller rolls back."""
    engine = get_engine({"sqlalchemy.url": migrated_database_url})
    count = text("SELECT count(*) FROM classifiers")
    with engine.connect() as connection:
        outer = connection.begin()
        before = connection.execute(count).scalar()
        with Configurator(settings={"dbconnection": connection}) as config:
            config.include("pypi_web.models")
        assert config.registry["dbengine"] is connection.engine
        for classifier, commit in (("Topic :: Kept", True), ("Topic :: Undone", False)):
            request = _request_on(config.registry, "POST")
            request.tm.begin()
            request.dbsession.add(Classifier(classifier=classifier))
            request.dbsession.flush()
            if commit:
                request.tm.commit()
            else:
                request.tm.abort()
        # The committed request's row is in the caller's transaction, the aborted one's is not.
        assert connection.execute(count).scalar() == before + 1
        assert outer.is_active
        outer.rollback()
    with engine.connect() as other:
        assert other.execute(count).scalar() == before
    engine.dispose()
