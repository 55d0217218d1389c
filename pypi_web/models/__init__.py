"""Models, engine and the request-scoped session.

Every model module is imported here so that ``Base.metadata`` is complete
whenever this package is imported (Alembic's env.py relies on that; a test
checks no module is left out).
"""

from __future__ import annotations

import random
import time

import transaction
import zope.sqlalchemy
from pyramid_retry import mark_error_retryable
from sqlalchemy import engine_from_config, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

from .accounts import MAINTAINER, MANAGE, OWNER, UPLOAD, ApiToken, LoginThrottle, Role, User
from .classifiers import Classifier, package_classifiers
from .events import AuditEvent
from .journal_notify import JOURNAL_CHANNEL
from .meta import Base, utcnow
from .packaging import JournalEntry, Package, Release, ReleaseFile
from .search import SEARCH_SCHEMA_NAMES
from .upstream import UpstreamFile, UpstreamProject

# The one MetaData every model is on: what Alembic compares the database with.
metadata = Base.metadata

__all__ = [
    "JOURNAL_CHANNEL",
    "MAINTAINER",
    "MANAGE",
    "OWNER",
    "SEARCH_SCHEMA_NAMES",
    "UPLOAD",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Classifier",
    "JournalEntry",
    "LoginThrottle",
    "Package",
    "Release",
    "ReleaseFile",
    "Role",
    "UpstreamFile",
    "UpstreamProject",
    "User",
    "get_engine",
    "get_session_factory",
    "get_tm_session",
    "metadata",
    "package_classifiers",
    "use_explicit_sqlite_transactions",
    "utcnow",
    "writer_engine",
]

configure_mappers()

# How long a statement waits for SQLite's lock before "database is locked"
# (``sqlite.busy_timeout``, milliseconds); pyramid_retry then tries the request again.
SQLITE_BUSY_TIMEOUT_SETTING = "sqlite.busy_timeout"
DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5000
# SQLite's journal (``sqlite.journal_mode``). WAL, the default, lets reads go on while
# an upload commits, and a commit wait for no read: in the rollback journal ("delete")
# every commit waits until no request is reading, and new reads wait behind it.
SQLITE_JOURNAL_MODE_SETTING = "sqlite.journal_mode"
DEFAULT_SQLITE_JOURNAL_MODE = "wal"


def use_explicit_sqlite_transactions(
    engine: Engine,
    *,
    begin: str = "BEGIN",
    foreign_keys: bool = True,
    busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
    journal_mode: str | None = None,
) -> None:
    """Make SQLite transactions behave as they do on Postgres.

    Python's sqlite3 module begins a transaction only before the first
    INSERT/UPDATE and commits on its own before DDL, so a SAVEPOINT would open
    (and its RELEASE commit) a transaction of its own, and DDL could not be
    rolled back. Taking BEGIN over makes every statement part of the
    transaction SQLAlchemy thinks it is in.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # SQLite leaves foreign keys off unless every connection asks (and the
        # pragma is ignored inside a transaction, hence here).
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if journal_mode is not None:
            _set_journal_mode(cursor, journal_mode)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql(conn.get_execution_options().get(SQLITE_BEGIN, begin))


def _set_journal_mode(cursor, wanted: str) -> None:
    # The mode is kept in the file: only the first connection to a database changes it
    # (an in-memory database keeps "memory").
    current = cursor.execute("PRAGMA journal_mode").fetchone()[0]
    if current not in (wanted, "memory"):
        cursor.execute(f"PRAGMA journal_mode={wanted}")


# A Connection, its transaction begun, that every request joins (a test's).
DBCONNECTION_SETTING = "dbconnection"
# An execution option naming the statement that begins an SQLite transaction.
SQLITE_BEGIN = "pypi_web_sqlite_begin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def writer_engine(engine: Engine) -> Engine:
    """``engine`` for requests that write: on SQLite, they take the write lock first.

    A transaction that reads, then writes, asks for the write lock while
    holding a read lock; two such requests at once (two uploads) deadlock and
    SQLite fails one of them at once. BEGIN IMMEDIATE takes the write lock
    before the first read, so the second writer simply waits its turn
    (busy_timeout). SQLite has one writer at a time anyway; reads still go
    on beside it until it commits.
    """
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{SQLITE_BEGIN: "BEGIN IMMEDIATE"})


def retry_when_sqlite_is_locked(engine: Engine) -> None:
    """Let pyramid_retry run a request again when SQLite refused its write lock.

    Two requests that both read and then write (two uploads at once) can
    each hold SQLite's shared lock and ask for the write lock; SQLite then
    fails one at once with "database is locked" instead of waiting (waiting
    could never end). Run again, it waits its turn behind the other.
    """

    @event.listens_for(engine, "handle_error")
    def _mark_locked_retryable(context):
        if "database is locked" in str(context.original_exception):
            # A short random pause first: an immediate retry meets the other
            # writer still at work (seen on a loaded CI machine, 3 tries in a row).
            time.sleep(random.uniform(0.05, 0.3))
            mark_error_retryable(context.sqlalchemy_exception)


def sqlite_busy_timeout_ms(settings: dict) -> int:
    """``sqlite.busy_timeout``: how long a statement waits for SQLite's lock."""
    return int(settings.get(SQLITE_BUSY_TIMEOUT_SETTING, DEFAULT_SQLITE_BUSY_TIMEOUT_MS))


def get_engine(settings: dict, prefix: str = "sqlalchemy.") -> Engine:
    engine = engine_from_config(settings, prefix)
    if engine.dialect.name == "sqlite":
        journal_mode = settings.get(SQLITE_JOURNAL_MODE_SETTING, DEFAULT_SQLITE_JOURNAL_MODE)
        use_explicit_sqlite_transactions(
            engine,
            busy_timeout_ms=sqlite_busy_timeout_ms(settings),
            journal_mode=journal_mode.lower(),
        )
        retry_when_sqlite_is_locked(engine)
    return engine


def get_session_factory(bind: Engine | Connection) -> sessionmaker[Session]:
    """Sessions on ``bind``: an engine, or a connection whose transaction they join.

    On a connection already in a transaction (a test's, rolled back at its end:
    SQLAlchemy's "joining a Session into an external transaction"), each
    session's commit releases a savepoint of its own and its rollback goes back
    to it, so requests see each other's writes and the caller undoes them all.
    """
    if isinstance(bind, Connection):
        return sessionmaker(
            bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
    return sessionmaker(bind=bind, expire_on_commit=False)


def get_tm_session(
    session_factory: sessionmaker[Session],
    transaction_manager: transaction.TransactionManager,
    request=None,
) -> Session:
    """A session joined to the transaction manager: pyramid_tm commits or aborts it."""
    dbsession = session_factory(info={"request": request})
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


def includeme(config):
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    # pyramid_tm would read the session on every request to name the user in
    # the transaction's notes (which nothing reads): every page would then vary
    # by Cookie (pypi_web.security), none could be shared by a cache.
    settings["tm.annotate_user"] = False
    config.include("pyramid_tm")
    config.include("pyramid_retry")

    # Tests hand in an engine of their own, or a connection in a transaction
    # of theirs (DBCONNECTION_SETTING) that every request then joins.
    connection: Connection | None = settings.get(DBCONNECTION_SETTING)
    engine = connection.engine if connection is not None else settings.get("dbengine")
    engine = engine or get_engine(settings)
    config.registry["dbengine"] = engine
    config.registry[DBCONNECTION_SETTING] = connection
    if connection is not None:
        # The transaction has begun already: how it began is not the requests' to choose.
        session_factory = writing_session_factory = get_session_factory(connection)
    else:
        session_factory = get_session_factory(engine)
        writing_session_factory = get_session_factory(writer_engine(engine))
    config.registry["dbsession_factory"] = session_factory

    def dbsession(request):
        factory = session_factory if request.method in SAFE_METHODS else writing_session_factory
        return get_tm_session(factory, request.tm, request=request)

    config.add_request_method(dbsession, reify=True)
