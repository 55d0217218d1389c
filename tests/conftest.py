"""Shared fixtures: every database test runs on SQLite and on Postgres.

Each test session creates a database of its own per backend (an SQLite file,
a fresh Postgres database), builds its schema with ``alembic upgrade head``
and drops it at the end. Outside CI an unreachable Postgres skips the
Postgres half with the reason; with CI=true it fails the run.

Tests that only read share a database holding the top-100 PyPI data; each
runs inside a transaction that is rolled back afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import transaction
import webtest
from alembic import command
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import Connection, Engine

from pypi_web import main
from pypi_web.migrations import alembic_config, migration_engine
from pypi_web.models import get_engine, get_session_factory, get_tm_session
from pypi_web.packaging.journal import journal

from . import factories

# One Chromium per test session, for tests/browser/ and tests/journeys/.
from .chromium import browser_context, playwright_api  # noqa: F401

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ("sqlite", "postgresql")
# The server where each test session creates (and drops) its Postgres databases.
POSTGRES_URL = os.environ.get(
    "PYPI_WEB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TOP100_DIR = Path(
    os.environ.get(
        "PYPI_WEB_TOP100_DIR",
        Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pypi-top-100",
    )
)


def skip_or_fail(reason: str):
    """Skip outside CI; in CI a missing prerequisite is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must not be skipped)", pytrace=False)
    pytest.skip(reason)


_postgres_error: list[str | None] = []


def postgres_unreachable() -> str | None:
    """Why Postgres cannot be used, or None when it can (checked once)."""
    if not _postgres_error:
        try:
            engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _postgres_error.append(None)
        except Exception as exc:  # any failure to connect means "unreachable"
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            _postgres_error.append(f"PostgreSQL at {POSTGRES_URL} is unreachable: {first_line}")
    return _postgres_error[0]


class DatabaseFactory:
    """Creates empty databases on one backend and drops them all at the end."""

    def __init__(self, backend: str, directory: Path):
        self.backend = backend
        self.directory = directory
        self.created: list[str] = []

    def create(self, label: str = "db") -> str:
        name = f"pypi_web_test_{label}_{uuid.uuid4().hex[:10]}"
        if self.backend == "sqlite":
            url = f"sqlite:///{self.directory / (name + '.sqlite')}"
        else:
            admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        self.created.append(url)
        return url

    def create_migrated(self, label: str = "fresh") -> str:
        """A new database at the head revision, with no rows."""
        url = self.create(label)
        upgrade(url)
        return url

    def drop_all(self) -> None:
        if self.backend != "postgresql":
            return
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for url in self.created:
                name = make_url(url).database
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """``alembic upgrade`` on ``url`` through the project's own env.py, both deploy steps."""
    engine = migration_engine(url)
    with engine.connect() as connection:
        cfg = alembic_config(connection)
        cfg.attributes["contract"] = True  # contract revisions too (pypi_web.migrations.phases)
        command.upgrade(cfg, revision)
        connection.commit()
    engine.dispose()


def import_top100(engine: Engine) -> None:
    from sqlalchemy.orm import Session

    from pypi_web.importer.pypi_json import PypiJsonImporter, json_documents

    with Session(engine) as session:
        report = PypiJsonImporter(session).import_paths(json_documents(TOP100_DIR))
        assert not report.errors, report.errors
        session.commit()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    if request.param == "postgresql":
        reason = postgres_unreachable()
        if reason:
            skip_or_fail(reason)
    return request.param


@pytest.fixture(scope="session")
def top100_dir() -> Path:
    if not TOP100_DIR.is_dir():
        skip_or_fail(f"the top-100 PyPI documents are not at {TOP100_DIR}")
    return TOP100_DIR


@pytest.fixture(scope="session")
def database_factory(backend, tmp_path_factory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def postgres_factory(tmp_path_factory) -> Iterator[DatabaseFactory]:
    """Databases for tests of what only Postgres has (LISTEN/NOTIFY): no SQLite twin."""
    reason = postgres_unreachable()
    if reason:
        skip_or_fail(reason)
    factory = DatabaseFactory("postgresql", tmp_path_factory.mktemp("db-postgres-only"))
    yield factory
    factory.drop_all()


@pytest.fixture
def migrated_postgres_url(postgres_factory) -> str:
    """A new Postgres database at the head revision, with no rows, for this test alone."""
    return postgres_factory.create_migrated()


@pytest.fixture
def empty_database_url(database_factory) -> str:
    """A new, empty database (no tables at all) for this test alone."""
    return database_factory.create("empty")


@pytest.fixture
def migrated_database_url(database_factory) -> str:
    """A new database at the head revision, with no rows, for this test alone."""
    return database_factory.create_migrated()


@pytest.fixture(scope="session")
def dbengine(database_factory, top100_dir) -> Iterator[Engine]:
    """The session's shared database: schema at head, top-100 data imported."""
    url = database_factory.create_migrated("shared")
    engine = get_engine({"sqlalchemy.url": url})
    import_top100(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app_settings(tmp_path_factory) -> dict[str, str]:
    return {
        "files.storage_dir": str(tmp_path_factory.mktemp("files")),
        "pyramid.reload_templates": "false",
        "session.secret": "test-only-session-secret-0123456789abcdef",
    }


@pytest.fixture(scope="session")
def dbconnection(dbengine) -> Iterator[Connection]:
    """One connection to the shared database, for every app built on it in this session."""
    with dbengine.connect() as connection:
        yield connection


@pytest.fixture
def db_transaction(dbconnection) -> Iterator[Connection]:
    """The test's transaction on ``dbconnection``, rolled back at its end.

    Apps built with ``dbconnection`` join it (SQLAlchemy's "joining a Session
    into an external transaction"): each request's commit is a savepoint in it.
    """
    outer = dbconnection.begin()
    try:
        yield dbconnection
    finally:
        outer.rollback()


@pytest.fixture(scope="session")
def site_app(dbconnection, app_settings):
    """The app, on ``dbconnection``: use it through ``app`` (inside a test's transaction)."""
    return main({}, dbconnection=dbconnection, **app_settings)


@pytest.fixture
def app(site_app, db_transaction):
    """The app, every request joining the test's rolled-back transaction."""
    return site_app


@pytest.fixture
def tm() -> Iterator[transaction.TransactionManager]:
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    manager.doom()
    yield manager
    manager.abort()


@pytest.fixture
def dbsession(app, tm):
    """The test's session, in its transaction (rolled back after the test)."""
    return get_tm_session(app.registry["dbsession_factory"], tm)


class TransactionClient(webtest.TestApp):
    """A WebTest client of an app that joins the test's transaction, beside the test's session.

    Each request has a session of its own on the test's connection: the test's
    pending rows are flushed for it to see, and what the test's session holds is
    expired after it, read again as the request left it.
    """

    def __init__(self, app, dbsession, extra_environ=None):
        super().__init__(app, extra_environ={"HTTP_HOST": "localhost", **(extra_environ or {})})
        self.dbsession = dbsession

    def do_request(self, req, status=None, expect_errors=None):
        self.dbsession.flush()
        try:
            return super().do_request(req, status, expect_errors)
        finally:
            self.dbsession.expire_all()


def client_in_transaction(app, dbsession) -> webtest.TestApp:
    """A WebTest client whose requests all join the test's rolled-back transaction."""
    return TransactionClient(app, dbsession)


@pytest.fixture
def testapp(app, dbsession) -> webtest.TestApp:
    """The app, every request joining the test's rolled-back transaction."""
    return client_in_transaction(app, dbsession)


PAGE_CACHE_BYTES = 4 * 1024 * 1024


@pytest.fixture(scope="session")
def cached_site_app(dbconnection, app_settings):
    """The app with the page cache on, as production.ini has it (serials read per request)."""
    settings = {**app_settings, "page_cache.max_bytes": PAGE_CACHE_BYTES}
    return main({}, dbconnection=dbconnection, **settings)


@pytest.fixture
def cached_app(cached_site_app, db_transaction):
    return cached_site_app


@pytest.fixture
def cached_testapp(cached_app, dbsession) -> webtest.TestApp:
    """Like ``testapp``, through the page cache (emptied first)."""
    cached_app.registry["page_cache"].clear()
    return client_in_transaction(cached_app, dbsession)


SAVEPOINT_STATEMENTS = ("SAVEPOINT ", "RELEASE SAVEPOINT ", "ROLLBACK TO SAVEPOINT ")


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(dbengine):
    """``with count_queries() as counter: ...`` records the SQL statements issued."""

    @contextlib.contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()

        def record(conn, cursor, statement, parameters, context, executemany):
            # A request's savepoint in the test's transaction stands for its own
            # transaction, which begins without a statement on Postgres.
            if not statement.startswith(SAVEPOINT_STATEMENTS):
                counter.statements.append(statement)

        event.listen(dbengine, "before_cursor_execute", record)
        try:
            yield counter
        finally:
            event.remove(dbengine, "before_cursor_execute", record)

    return counting


@pytest.fixture
def session_factory_for():
    """Build a plain session factory for a database URL (for tests that commit)."""
    engines: list[Engine] = []

    def make(url: str):
        engine = get_engine({"sqlalchemy.url": url})
        engines.append(engine)
        return get_session_factory(engine)

    yield make
    for engine in engines:
        engine.dispose()


# ---- accounts (engineer E) ----


@pytest.fixture
def make_user(dbsession):
    """``make_user("alice", password=..., **User columns)`` -> User, rolled back with the test.

    The default password is ``ACCOUNT_PASSWORD``; the email is ``<username>@example.org``.
    """
    return functools.partial(factories.user, dbsession)


@pytest.fixture
def make_package(dbsession):
    """``make_package(name, ["1.0", "2.0b1"], yanked={version: reason}, **package_columns)``.

    Each release gets one sdist; release times are one day apart, oldest first.
    """

    def make(name: str, release_versions=("1.0",), **kwargs):
        return factories.project(dbsession, name, release_versions, **kwargs)

    return make


@pytest.fixture
def project(dbsession, make_user):
    """``DEMO_PROJECT``, owned by "owner", with releases 1.0 and 2.0 (no files), journalled."""
    package = factories.project(
        dbsession,
        factories.DEMO_PROJECT,
        ["1.0", "2.0"],
        owner=make_user("owner"),
        files=False,
        summary="Cached things",
    )
    journal(dbsession, package, "create")
    dbsession.flush()
    return package


@pytest.fixture
def second_browser(app, dbsession) -> webtest.TestApp:
    """A second client with its own cookies, in the same rolled-back transaction as ``testapp``."""
    return client_in_transaction(app, dbsession)


# ---- upstream indexes (pypi_web.upstream) ----


@pytest.fixture
def fake_upstream() -> Iterator:
    """A PEP 691 index on loopback (tests/upstream/fake_index.py), stopped after the test."""
    from .upstream.fake_index import FakeIndex

    index = FakeIndex().start()
    yield index
    index.stop()


def _upstream_app(db_transaction, app_settings, fake_upstream, tmp_path, **extra):
    settings = {
        **app_settings,
        "files.storage_dir": str(tmp_path / "files"),
        "pypi_web.upstreams": fake_upstream.simple,
        "upstream.ttl_seconds": "0",
        "upstream.timeout_seconds": "5",
        **extra,
    }
    return main({}, dbconnection=db_transaction, **settings)


@pytest.fixture
def upstream_app(db_transaction, app_settings, fake_upstream, tmp_path):
    """The app with ``fake_upstream`` as its upstream, revalidating on every request (TTL 0)."""
    return _upstream_app(db_transaction, app_settings, fake_upstream, tmp_path)


@pytest.fixture
def upstream_testapp(upstream_app, dbsession) -> webtest.TestApp:
    return client_in_transaction(upstream_app, dbsession)


@pytest.fixture
def cooldown_testapp(db_transaction, app_settings, fake_upstream, tmp_path, dbsession):
    """Like ``upstream_testapp``, hiding upstream files younger than 7 days."""
    app = _upstream_app(
        db_transaction, app_settings, fake_upstream, tmp_path, **{"upstream.cooldown_days": "7"}
    )
    return client_in_transaction(app, dbsession)


# ---- concurrency: requests that commit, each on its own connection ----


class CommittingSite:
    """The app on a database of its own; every request commits (no shared transaction).

    ``client()`` gives a WebTest client with its own cookies; clients used
    from several threads send truly concurrent requests, each on its own
    pooled connection. ``session()`` is a plain session to set up and check rows.
    """

    def __init__(self, url: str, settings: dict[str, str]):
        self.engine = get_engine({"sqlalchemy.url": url, "sqlalchemy.pool_size": "20"})
        self.session = get_session_factory(self.engine)
        self.app = main({}, dbengine=self.engine, **settings)

    def client(self, address: str = "192.0.2.1") -> webtest.TestApp:
        return webtest.TestApp(
            self.app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": address}
        )

    def make_user(self, username: str, password: str = factories.ACCOUNT_PASSWORD):
        with self.session() as session:
            user = factories.user(session, username, password)
            session.commit()
            return user


@pytest.fixture
def committing_site(migrated_database_url, app_settings) -> Iterator[CommittingSite]:
    site = CommittingSite(migrated_database_url, app_settings)
    yield site
    site.engine.dispose()


def run_at_once(*calls):
    """Run the callables in threads released together at a barrier; their results in order."""
    import threading

    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        try:
            results[index] = call()
        except BaseException as exc:  # reported to the test, not lost in the thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a concurrent request hung"
    return results
