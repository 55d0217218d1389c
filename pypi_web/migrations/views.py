"""``/_status/schema``: can the running code serve the database it faces, for deploy checks."""

from __future__ import annotations

from .guard import compatibility_for, explain, schema_status

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
