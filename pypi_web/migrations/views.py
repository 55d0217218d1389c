"""``/_status/schema``: the database's revision against the code's, for deploy checks."""

from __future__ import annotations

from .guard import SERVABLE, schema_status


def schema_status_view(request):
    """200 while the site may serve on this schema (up to date, or ahead), 503 otherwise.

    Checked live on every call (the start-up guard checked once): a deploy
    script polls it after `alembic upgrade head` and before switching traffic.
    """
    status = schema_status(request.dbsession.connection())
    request.response.cache_control.no_store = True
    if status.state not in SERVABLE:
        request.response.status_code = 503
    return status.as_dict()
