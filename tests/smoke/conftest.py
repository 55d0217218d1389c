"""The smoke suite's app: the normal top-100 database, or an existing one by URL.

Without ``PYPI_WEB_SMOKE_DB_URL`` the suite runs, like every database test, on
SQLite and on Postgres against the session's migrated top-100 database. With
it, the suite runs once against that database as it is: nothing is migrated
or imported, so it tells whether this code can serve a database another step
(a deploy's migration, another release's importer) left behind.

Every request of a test shares one transaction that is rolled back afterwards,
so the suite leaves the database as it found it and can run again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import webtest
from sqlalchemy import Connection, select

from pypi_web.models import Package, Release, get_engine
from tests.conftest import BACKENDS, client_in_transaction, postgres_unreachable, skip_or_fail

SMOKE_DB_URL = os.environ.get("PYPI_WEB_SMOKE_DB_URL")
EXISTING = "existing-database"


@pytest.fixture(scope="session", params=[EXISTING] if SMOKE_DB_URL else BACKENDS)
def backend(request) -> str:
    """As tests/conftest.py's, or the one database given by URL."""
    if request.param == "postgresql":
        reason = postgres_unreachable()
        if reason:
            skip_or_fail(reason)
    return request.param


@pytest.fixture(scope="session")
def dbconnection(backend, request) -> Iterator[Connection]:
    """As tests/conftest.py's, or a connection to the database given by URL."""
    existing = backend == EXISTING
    engine = get_engine({"sqlalchemy.url": SMOKE_DB_URL}) if existing else None
    with (engine or request.getfixturevalue("dbengine")).connect() as connection:
        yield connection
    if engine is not None:
        engine.dispose()


@pytest.fixture
def smoke_session(dbsession):
    return dbsession


@pytest.fixture
def client(app, smoke_session) -> webtest.TestApp:
    return client_in_transaction(app, smoke_session)


@pytest.fixture
def some_release(smoke_session) -> Release:
    """A release that has files, of the first such project by name."""
    release = smoke_session.scalars(
        select(Release)
        .join(Release.package)
        .where(Release.files.any())
        .order_by(Package.normalized_name, Release.sort_order.desc())
        .limit(1)
    ).first()
    if release is None:
        pytest.fail("the database holds no release with files: is it a top-100 database?")
    return release
