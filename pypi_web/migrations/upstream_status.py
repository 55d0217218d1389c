"""``pypi-web-db status``'s upstream section: each environment's upstream health and cache size.

The figures are those of ``/_status/upstream`` (pypi_web.upstream.services.cache_report),
read from the environment's database with the upstreams its ini file configures.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pypi_web.config import ConfigError, read_app_config
from pypi_web.models import UpstreamFile, UpstreamProject
from pypi_web.upstream import Upstreams
from pypi_web.upstream.services import cache_report

UPSTREAM_TABLES = {UpstreamProject.__tablename__, UpstreamFile.__tablename__}


def configured_upstreams(target: str) -> Upstreams:
    """The upstreams an ini file configures (a bare database URL configures none)."""
    if "://" in target:
        return Upstreams.from_settings({})
    try:
        return Upstreams.from_settings(read_app_config(target).settings)
    except ConfigError:
        return Upstreams.from_settings({})


def upstream_report(connection, target: str) -> dict | None:
    """``cache_report`` for this database; None before the upstream tables exist."""
    if not set(sa.inspect(connection).get_table_names()) >= UPSTREAM_TABLES:
        return None
    with Session(bind=connection) as session:
        return cache_report(session, configured_upstreams(target))


def _size(count: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return str(count)


def _row(name: str, report: dict) -> tuple[str, ...]:
    upstreams = report["upstreams"]
    failing = sum(u["projects_failing_revalidation"] for u in upstreams)
    return (
        name,
        str(len(upstreams)) if upstreams else "none",
        str(sum(u["projects_cached"] for u in upstreams)),
        f"FAILING ({failing})" if failing else "ok",
        str(report["files_cached"]),
        _size(report["bytes_cached"]),
    )


def _notes(report: dict) -> list[str]:
    return [
        f"upstream {u['url']}: {u['projects_failing_revalidation']} cached project(s) failed "
        f"their last revalidation (served stale), the last at {u['last_error_at']}"
        for u in report["upstreams"]
        if u["projects_failing_revalidation"]
    ]


def print_upstream_table(envs, out) -> None:
    """The upstream table, for the environments whose database has the upstream tables."""
    reports = [(env.name, env.upstream) for env in envs if env.upstream is not None]
    if not reports:
        return
    headers = ("ENVIRONMENT", "UPSTREAMS", "PROJECTS", "HEALTH", "FILES", "CACHE SIZE")
    rows = [_row(name, report) for name, report in reports]
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    print(file=out)
    for row in (headers, *rows):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(line.rstrip(), file=out)
    for name, report in reports:
        notes = _notes(report)
        if notes:
            print(f"\n{name} (upstreams):", file=out)
            for note in notes:
                print(f"  {note}", file=out)
