"""``/_status/schema``: can the running code serve the database it faces, for deploy checks."""

from __future__ import annotations

import logging

from pyramid.response import Response

from .guard import compatibility_for, explain, schema_status

log = logging.getLogger(__name__)

CACHE_KEY = "pypi_web.schema_compatibility"


def schema_status_view(request):
    """200 while the code can serve this database (``serves``), 503 with the reason otherwise.

    The revision is read on every call (two small queries); the schema is
    reflected only when the revision differs from the one last checked (the
    start-up guard's, at first): a deploy script polls this between steps.
    """
    connection = request.dbsession.connection()
    status = schema_status(connection)
    cache = request.registry.setdefault(CACHE_KEY, {})
    status.compatibility = compatibility_for(status, connection, cache)
    request.response.cache_control.no_store = True
    body = status.as_dict()
    if not status.serves:
        request.response.status_code = 503
        body["reason"] = explain(status)
    return body


# What each backend says when a statement names a table or column the schema lacks:
# SQLite's messages, Postgres's SQLSTATEs undefined_table and undefined_column.
SQLITE_SCHEMA_REFUSALS = ("no such table", "no such column", "has no column named")
POSTGRES_SCHEMA_REFUSALS = ("42P01", "42703")


def schema_refused(exc: BaseException) -> bool:
    """Whether the database refused the SQL for naming what its schema lacks."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in POSTGRES_SCHEMA_REFUSALS
    message = str(orig or "").lower()
    return any(text in message for text in SQLITE_SCHEMA_REFUSALS)


class SchemaRefusedPredicate:
    """``schema_refused=True``: the exception view is for SQL the live schema refuses."""

    def __init__(self, value, config):
        self.value = bool(value)

    def text(self):
        return f"schema_refused = {self.value}"

    phash = text

    def __call__(self, context, request):
        return schema_refused(context) == self.value


def database_refused_view(exc, request):
    """SQL the live schema refuses: 503 naming what is missing, never a 500.

    What gets here is a table or column a contract revision dropped under a
    running release ("no such column", UndefinedColumn): it passes once the
    code or the schema rolls forward. Other database errors are the code's
    (a 500) or the database away (pypi_web.outage).
    """
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = first[0] if first else type(exc).__name__
    log.error("database refused %s %s: %s", request.method, request.path, reason)
    return Response(
        "503 Service Unavailable\n\nThe database refused this request: "
        f"{reason}\nIts schema may have changed under this release: see /_status/schema.\n",
        status=503,
        content_type="text/plain",
        headers={"Retry-After": "30", "Cache-Control": "no-store"},
    )
