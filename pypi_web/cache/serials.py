"""The serials a kept page depends on, read straight on the driver (one query per hit)."""

from __future__ import annotations

import contextlib
import threading
import weakref

from sqlalchemy import Connection, Engine, bindparam, create_engine, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from pypi_web.models import JournalEntry, Package, UpstreamProject
from pypi_web.packaging.journal import INDEX, PROJECT
from pypi_web.packaging.names import normalize

# What a kept page depends on: its project's id and serial, or the index's
# serial (the newest journal entry).
_NAME = bindparam("name")
STATEMENTS = {
    # The project here, if any, and its upstream copy, if any (one row either way).
    PROJECT: select(
        select(Package.id).where(Package.normalized_name == _NAME).scalar_subquery(),
        select(Package.last_serial).where(Package.normalized_name == _NAME).scalar_subquery(),
        select(UpstreamProject.fetched_at)
        .where(UpstreamProject.normalized_name == _NAME)
        .scalar_subquery(),
    ),
    INDEX: select(func.max(JournalEntry.id)),
}


def _params(kind: str, matchdict: dict) -> dict:
    return {"name": normalize(matchdict.get("name", ""))} if kind == PROJECT else {}


def _serial(kind: str, row) -> tuple | None:
    if row is None or (kind == PROJECT and all(value is None for value in row)):
        return None  # no such project, here or cached from upstream
    # An index with no journal entry yet has the serial None: still a serial.
    return (kind, *row)


class SerialUnavailable(Exception):
    """The serial could not be read (the database is down or the connection broke)."""


class _ThreadConnection:
    """One server thread's connection for the serial queries, closed when the thread ends."""

    def __init__(self, connection):
        self.connection = connection
        self.dbapi_connection = connection.dbapi_connection

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already broken or closed: nothing to release
            self.connection.close()

    def invalidate(self) -> None:
        """Drop a broken connection (closing it would try, and log, a rollback)."""
        with contextlib.suppress(Exception):
            self.connection.invalidate()

    def __del__(self):
        # A thread's locals are released when it ends.
        self.close()


class SerialReader:
    """The two serial queries, run straight on the driver.

    A hit costs little more than this query, so it skips what a page's own
    queries go through: no ORM session, no transaction (an engine of its own
    in autocommit: one round trip to Postgres, not BEGIN, SELECT, ROLLBACK),
    statements compiled once, and no pool checkout: each server thread keeps
    one connection of its own (checking one out and back in cost about as much
    Python time as the query's round trip).
    """

    def __init__(self, engine: Engine, sqlite_timeout: float | None = None):
        # No pool: each thread opens its one connection and keeps it (a pool
        # would only bound how many threads may check the cache at once).
        # On SQLite, a lock is waited for as long as the site's own queries wait.
        connect_args = {"timeout": sqlite_timeout} if sqlite_timeout is not None else {}
        self.engine = create_engine(
            engine.url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args=connect_args
        )
        self._dbapi_error = self.engine.dialect.loaded_dbapi.Error
        self._libpq = self.engine.dialect.driver == "psycopg"
        if self._libpq:
            from psycopg import pq

            self._pq = pq
        self._local = threading.local()
        self._held: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()
        if self._libpq:
            # libpq's own placeholders ($1): SQL and parameter order for PQprepare.
            dollar = postgresql.dialect(paramstyle="numeric_dollar")
            self._prepared = {}
            for kind, statement in STATEMENTS.items():
                compiled = statement.compile(dialect=dollar)
                self._prepared[kind] = (str(compiled).encode(), tuple(compiled.positiontup))
        else:
            self._compiled = {kind: self._compile(s) for kind, s in STATEMENTS.items()}

    def _compile(self, statement) -> tuple[str, tuple[str, ...] | None]:
        compiled = statement.compile(dialect=self.engine.dialect)
        return str(compiled), (tuple(compiled.positiontup) if compiled.positional else None)

    def _fetch(self, kind: str, params) -> tuple | None:
        held = getattr(self._local, "held", None)
        try:
            if held is None:
                held = _ThreadConnection(self.engine.raw_connection())
                if self._libpq:
                    self._prepare(held.dbapi_connection.pgconn)
                self._local.held = held
                self._held.add(held)
            if self._libpq:
                return self._fetch_prepared(held.dbapi_connection.pgconn, kind, params)
            sql, order = self._compiled[kind]
            cursor = held.dbapi_connection.cursor()
            try:
                cursor.execute(sql, tuple(params[k] for k in order) if order else params)
                return cursor.fetchone()
            finally:
                cursor.close()
        except (self._dbapi_error, DBAPIError, SerialUnavailable) as exc:
            # A broken connection (a restarted server) is dropped; the
            # thread's next request opens another.
            self._local.held = None
            if held is not None:
                self._held.discard(held)
                held.invalidate()
            raise SerialUnavailable(str(exc)) from exc

    # On psycopg, the two queries are prepared once per connection (named
    # after their kind) and run through its libpq layer, psycopg.pq: a third
    # of the Python time of a cursor's execute, and Postgres skips parsing and
    # planning. A hit is mostly this round trip, on CPUs the site shares.
    def _prepare(self, pgconn) -> None:
        for name, (sql, _) in self._prepared.items():
            result = pgconn.prepare(name.encode(), sql)
            if result.status != self._pq.ExecStatus.COMMAND_OK:
                raise SerialUnavailable(result.error_message.decode(errors="replace"))

    def _fetch_prepared(self, pgconn, kind: str, params: dict) -> tuple | None:
        _, order = self._prepared[kind]
        result = pgconn.exec_prepared(kind.encode(), [params[k].encode() for k in order] or None)
        if result.status != self._pq.ExecStatus.TUPLES_OK:
            raise SerialUnavailable(result.error_message.decode(errors="replace"))
        if result.ntuples == 0:
            return None
        # Integers (or NULL) in text form.
        return tuple(_from_text(result.get_value(0, column)) for column in range(result.nfields))

    def current(self, kind: str, matchdict: dict) -> tuple | None:
        """The serial a route's pages depend on now, or None when there is none to check."""
        return _serial(kind, self._fetch(kind, _params(kind, matchdict)))

    def dispose(self) -> None:
        """Close every thread's connection (a process shutting down, a test)."""
        for held in list(self._held):
            held.close()
        self._held.clear()
        self._local = threading.local()
        self.engine.dispose()


class JoinedSerialReader:
    """The serial queries on the connection the app joins (settings' ``dbconnection``).

    Its transaction, not yet committed, is the one the requests write in: no
    other connection would see their serials move.
    """

    def __init__(self, connection: Connection):
        self.connection = connection

    def current(self, kind: str, matchdict: dict) -> tuple | None:
        row = self.connection.execute(STATEMENTS[kind], _params(kind, matchdict)).first()
        return _serial(kind, row)

    def dispose(self) -> None:
        """Nothing of its own to close: the connection is its owner's."""


def _from_text(value: bytes | None) -> int | bytes | None:
    """A column in libpq's text form: integers as int, a timestamp kept as text (compared only)."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value
