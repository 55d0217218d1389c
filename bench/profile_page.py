"""Where a page's time goes: cProfile over N in-process requests (no server, no network).

    .venv/bin/python bench/profile_page.py --db-url URL /simple/flask/ [--requests 500] [--top 25]

Prints the functions with the most cumulative time and the share of the total
spent in SQL execution, template rendering and the rest.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", required=True)
    parser.add_argument("path")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--accept", default="")
    args = parser.parse_args()

    import webtest

    from pypi_web import main as make_app

    app = make_app(
        {},
        **{
            "sqlalchemy.url": args.db_url,
            "pyramid.reload_templates": "false",
            "session.secret": "benchmark-only-session-secret-0123456789",
            "files.storage_dir": tempfile.mkdtemp(prefix="pypi-web-profile-"),
        },
    )
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    headers = {"Accept": args.accept} if args.accept else {}
    for _ in range(20):  # warm-up: templates compiled, pool filled, caches
        client.get(args.path, headers=headers, status=200)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(args.requests):
        client.get(args.path, headers=headers, status=200)
    profiler.disable()
    elapsed = time.perf_counter() - started
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(args.top)
    print(out.getvalue())

    def cumulative(predicate) -> float:
        return max((v[3] for k, v in stats.stats.items() if predicate(k)), default=0.0)

    sql = cumulative(lambda k: k[2] == "_execute_context")
    render = cumulative(lambda k: k[2] == "render_to_response")
    print(
        f"{args.requests} requests of {args.path} in {elapsed:.2f} s under the profiler "
        f"({elapsed / args.requests * 1000:.2f} ms each); of the time: "
        f"SQL execution {sql / elapsed:.0%}, rendering {render / elapsed:.0%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
