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


def database_refused_view(exc, request):
    """A query the live schema or server refused: 503 and the reason, never a 500.

    What gets here is the database refusing this code's SQL (a column a
    contract revision dropped under a running release: "no such column",
    UndefinedColumn) or not answering (server away). Both pass: roll the
    schema or the code forward, or bring the server back.
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
