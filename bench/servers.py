"""pypi-web-serve against gunicorn: the same app, the same pages, in one run, interleaved.

    .venv/bin/python bench/servers.py                      # Postgres, 1,000 packages
    .venv/bin/python bench/servers.py --backend sqlite --rounds 3 --seconds 15

Each round starts the site on both servers in turn (the order alternates from one
round to the next), measures /simple/, a project page and its JSON API page with
wrk, then the slow-client probe: ``--slow`` connections that send the start of a
request's headers and one more header line every second, never the end
(slowloris), while a real client asks for /simple/ once a second with a 5 s
timeout. See bench/README.md ("Servers"). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py: datasets, servers, wrk

SERVERS = ("pypi-web-serve", "gunicorn")


def slow_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that each send the start of a request's headers."""
    opened = []
    for n in range(count):
        with contextlib.suppress(OSError):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(f"GET /?slow={n} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
            opened.append(sock)
    return opened


def real_request(url: str, timeout: float) -> float | None:
    """Seconds a real client waited for a 200, or None (refused, timed out, an error)."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return time.perf_counter() - started if response.status == 200 else None
    except OSError:
        return None


def slow_client_probe(server: run.Server, count: int, seconds: int, timeout: float) -> dict:
    """While ``count`` slowloris connections trickle headers, do real requests get through?"""
    slow = slow_connections(server.port, count)
    waits = []
    try:
        for line in range(seconds):
            for sock in slow:
                with contextlib.suppress(OSError):  # the server closed it: allowed
                    sock.sendall(f"X-Slow-{line}: a\r\n".encode())
            started = time.monotonic()
            waits.append(real_request(server.url("/simple/"), timeout))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    finally:
        for sock in slow:
            sock.close()
    answered = [w for w in waits if w is not None]
    return {
        "slow_connections": len(slow),
        "asked": len(waits),
        "answered": len(answered),
        "max_wait_ms": max(answered, default=0.0) * 1000,
    }


def one_server(name: str, ds: run.Dataset, args, round_: int) -> dict:
    load = os.getloadavg()[0]
    serve_args = ["--db-url", ds.url, "--server", name]
    result = {"server": name, "round": round_, "load_average": load, "pages": {}}
    with run.Server(sys.executable, serve_args, args.processes, args.threads) as server:
        for page, path, headers in pages(ds.targets):
            m = run.Measurement(name, ds.backend, ds.packages, page, path)
            run.measure(server, m, args.seconds, args.connections, headers)
            result["pages"][page] = {"rps": m.rps, "p99_ms": m.p99_ms, "bad": m.bad_responses}
        result["slow"] = slow_client_probe(server, args.slow, args.slow_seconds, 5.0)
    run.log(f"{name:<15} round {round_}: slow clients {result['slow']}, load {load:.1f}")
    return result


def pages(targets: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    name = targets["name"]
    return [
        ("/simple/", "/simple/", {}),
        ("project", f"/project/{name}/", {}),
        ("json api", f"/pypi/{name}/json", {}),
    ]


def report(results: list[dict], args, ds: run.Dataset) -> str:
    lines = [
        f"{ds.backend} {ds.packages:,} packages; {args.processes} workers x {args.threads} "
        f"threads; wrk -c{args.connections} {args.seconds:.0f} s; {args.slow} slow clients",
        f"{'server':<15} {'round':>5} {'load':>5} "
        + " ".join(f"{p:>10} rps {'p99':>7}" for p, _, _ in pages(ds.targets))
        + "  slow: answered  max wait",
    ]
    for r in results:
        cells = " ".join(f"{v['rps']:14.0f} {v['p99_ms']:7.1f}" for v in r["pages"].values())
        slow = r["slow"]
        lines.append(
            f"{r['server']:<15} {r['round']:>5} {r['load_average']:5.1f} {cells}"
            f"  {slow['answered']:>4}/{slow['asked']:<4} {slow['max_wait_ms']:8.0f} ms"
        )
    for page, _, _ in pages(ds.targets):
        rps = {
            s: sum(r["pages"][page]["rps"] for r in results if r["server"] == s) for s in SERVERS
        }
        p99 = {
            s: max(r["pages"][page]["p99_ms"] for r in results if r["server"] == s) for s in SERVERS
        }
        if rps["pypi-web-serve"]:
            ratio = rps["gunicorn"] / rps["pypi-web-serve"]
            lines.append(
                f"{page}: gunicorn/pypi-web-serve req/s {ratio:.2f}"
                f", worst p99 {p99['gunicorn']:.1f} vs {p99['pypi-web-serve']:.1f} ms"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="postgresql", choices=("postgresql", "sqlite"))
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10, help="per page and server")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--slow", type=int, default=200, help="slowloris connections")
    parser.add_argument("--slow-seconds", type=int, default=20, help="length of the probe")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pypi-web-bench"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    ds = run.dataset(args.backend, args.packages, args.workdir, reuse=True)
    ds.targets = run.pick_targets(ds)
    results = []
    for round_ in range(1, args.rounds + 1):
        order = SERVERS if round_ % 2 else tuple(reversed(SERVERS))
        results += [one_server(name, ds, args, round_) for name in order]
    text = report(results, args, ds)
    print(text)
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (run.RESULTS / f"servers-{stamp}.txt").write_text(text + "\n")
    (run.RESULTS / f"servers-{stamp}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
