"""What the start-up schema check costs: one reflection of the live database.

    .venv/bin/python bench/schema_check.py URL [URL ...] [--runs N]

For each database: the time ``pypi_web.migrations.compat.check_models`` takes
on a fresh connection (as at start-up), the median and the worst of N runs,
beside the revision read every /_status/schema call costs, and the database's
size (packages, releases, files). Not part of the test suite; it asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

import sqlalchemy as sa

from pypi_web.migrations.compat import check_models
from pypi_web.migrations.guard import schema_status


def _timed(engine: sa.Engine, what) -> float:
    with engine.connect() as connection:
        started = time.perf_counter()
        what(connection)
        return time.perf_counter() - started


def measure(url: str, runs: int) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            counts = [
                connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("packages", "releases", "release_files")
            ]
            result = check_models(connection)
        checks = [_timed(engine, check_models) for _ in range(runs)]
        revisions = [_timed(engine, schema_status) for _ in range(runs)]
    finally:
        engine.dispose()
    shown = sa.make_url(url).render_as_string(hide_password=True)
    print(f"{shown}: {counts[0]:,} packages, {counts[1]:,} releases, {counts[2]:,} files")
    print(f"  {result.summary()}")
    print(
        f"  schema check: median {statistics.median(checks) * 1000:.1f} ms, "
        f"worst {max(checks) * 1000:.1f} ms over {runs} runs; revision read: median "
        f"{statistics.median(revisions) * 1000:.1f} ms "
        f"(check / revision = {statistics.median(checks) / statistics.median(revisions):.0f}x)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("urls", nargs="+", metavar="URL")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    for url in args.urls:
        measure(url, args.runs)


if __name__ == "__main__":
    main()
