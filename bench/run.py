"""pypi_web's benchmark: throughput and latency of every read page, against hello-world
and against pypiserver, at two data sizes, on SQLite and Postgres.

    .venv/bin/python bench/run.py --quick     # a few minutes
    .venv/bin/python bench/run.py             # 1,000 and 100,000 packages (1M releases)

See bench/README.md for what it does and how to read the table. Results go to
bench/results/ (a text table and the raw figures as JSON). Not part of the
test suite: it asserts nothing, it measures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PEER_VENV = BENCH / ".venv-peer"
PEER_REQUIREMENTS = ["pypiserver[cache]==2.4.*", "waitress>=3"]
SERVE = BENCH / "serve.py"
POSTGRES_ADMIN_URL = os.environ.get(
    "PYPI_WEB_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PEP691_JSON = "application/vnd.pypi.simple.v1+json"
# Revisions `alembic upgrade head` is timed over on the largest database.
ALEMBIC_STEPS = 3

sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


# ---- databases -------------------------------------------------------------


@dataclass
class Dataset:
    backend: str
    packages: int
    url: str
    generate_seconds: float | None = None
    targets: dict[str, str] = field(default_factory=dict)


def _postgres_database(name: str, fresh: bool) -> str:
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()
        if exists and fresh:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        if not exists or fresh:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)


def _package_count(url: str) -> int | None:
    """Packages in a database at the code's head, else None."""
    import sqlalchemy as sa

    from pypi_web.migrations import head_revision

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            if revision != head_revision():
                return None
            return conn.execute(sa.text("SELECT count(*) FROM packages")).scalar()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def dataset(backend: str, packages: int, workdir: Path, reuse: bool) -> Dataset:
    """A database at head with ``packages`` synthetic packages (10 releases, 20 files each)."""
    from alembic import command
    from synthetic import generate, vacuum_after_bulk_load  # bench/synthetic.py

    from pypi_web.migrations import alembic_config, migration_engine
    from pypi_web.models import get_engine

    name = f"pypi_web_bench_{packages}"
    if backend == "sqlite":
        path = workdir / f"{name}.sqlite"
        url = f"sqlite:///{path}"
        if reuse and path.exists() and _package_count(url) == packages:
            log(f"reusing {url}")
            return Dataset(backend, packages, url)
        path.unlink(missing_ok=True)
    else:
        url = _postgres_database(name, fresh=False)
        if reuse and _package_count(url) == packages:
            log(f"reusing postgres database {name}")
            return Dataset(backend, packages, url)
        url = _postgres_database(name, fresh=True)
    engine = migration_engine(url)
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
    engine.dispose()
    log(f"generating {packages:,} packages into {backend}")
    engine = get_engine({"sqlalchemy.url": url})
    started = time.perf_counter()
    with engine.begin() as connection:
        generate(
            connection,
            packages,
            packages * 10,
            packages * 20,
            seed=1,
            progress=sys.stderr.isatty(),
        )
    vacuum_after_bulk_load(engine)
    seconds = time.perf_counter() - started
    engine.dispose()
    log(f"generated {packages * 10:,} releases in {seconds:.1f} s")
    return Dataset(backend, packages, url, generate_seconds=seconds)


def pick_targets(ds: Dataset) -> dict[str, str]:
    """A typical project (10-40 releases), its latest version and search words."""
    import sqlalchemy as sa

    engine = sa.create_engine(ds.url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT p.normalized_name, p.summary, p.id FROM packages p "
                "JOIN releases r ON r.package_id = p.id GROUP BY p.id, p.normalized_name, "
                "p.summary HAVING count(*) BETWEEN 10 AND 40 ORDER BY p.id LIMIT 1"
            )
        ).one()
        version = conn.execute(
            sa.text(
                "SELECT version FROM releases WHERE package_id = :p AND NOT is_prerelease "
                "ORDER BY sort_order DESC LIMIT 1"
            ),
            {"p": row.id},
        ).scalar()
        filenames = conn.execute(
            sa.text(
                "SELECT f.filename FROM release_files f JOIN releases r ON r.id = f.release_id "
                "WHERE r.package_id = :p"
            ),
            {"p": row.id},
        ).scalars()
        filenames = list(filenames)
    engine.dispose()
    words = [w for w in re.findall(r"[a-z]+", row.summary.lower()) if len(w) > 3][:2]
    return {
        "name": row.normalized_name,
        "version": version,
        "words": "+".join(words),
        "filenames": json.dumps(filenames),
    }


# ---- servers and load -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_of(pid: int) -> int:
    """A process's proportional set size (PSS) in bytes: its own pages, and its share of
    those it shares (workers forked from one loaded parent share most of theirs);
    resident memory (RSS) where smaps_rollup is missing."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def process_tree_memory(pid: int) -> int:
    """Memory of a process and its children (PSS, see _memory_of), in bytes."""
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            pids += [int(c) for c in children]
    return sum(_memory_of(p) for p in pids)


@dataclass(frozen=True)
class Setup:
    """How the site is served: processes (of ``--threads`` threads each), page cache on or off,
    and how the cache learns of changes (None: production.ini's choice for the backend)."""

    name: str
    processes: int
    page_cache: bool = True
    invalidation: str | None = None
    backends: tuple[str, ...] | None = None  # None: every backend

    @property
    def serve_args(self) -> list[str]:
        args = [] if self.page_cache else ["--no-page-cache"]
        return args + (["--invalidation", self.invalidation] if self.invalidation else [])


class Server:
    def __init__(
        self, python: str, args: list[str], processes: int, threads: int, code: Path | None = None
    ):
        self.port = free_port()
        # Another tree's pypi_web (--baseline) ahead of this one's on the path.
        self.env = None if code is None else {**os.environ, "PYTHONPATH": str(code)}
        self.cmd = [
            python,
            str(SERVE),
            *args,
            "--port",
            str(self.port),
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ]
        self.proc: subprocess.Popen | None = None
        self.samples: list[tuple[float, int]] = []
        self._sampling = False

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdout=subprocess.DEVNULL, env=self.env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.cmd}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                time.sleep(1.0)  # the other processes bind too
                return self
            time.sleep(0.2)
        raise RuntimeError(f"server did not start: {self.cmd}")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @contextlib.contextmanager
    def sampling(self):
        self.samples = []
        self._sampling = True

        def sample():
            while self._sampling:
                self.samples.append((time.monotonic(), process_tree_memory(self.proc.pid)))
                time.sleep(0.25)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._sampling = False
            thread.join()

    @property
    def peak_memory(self) -> int:
        return max((rss for _, rss in self.samples), default=0)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


@dataclass
class Measurement:
    setup: str
    backend: str
    packages: int
    page: str
    path: str
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    bad_responses: int = 0
    socket_errors: int = 0
    peak_pss_mb: float = 0.0
    note: str = ""


def wrk(
    url: str, seconds: float, connections: int, headers: dict[str, str], script: Path | None = None
) -> dict:
    cmd = [
        "wrk",
        "--latency",
        "-t",
        str(min(2, connections)),  # wrk needs a connection per thread
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
    ]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    result = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99_ms": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "bad_responses": 0,
        "socket_errors": 0,
    }
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        result["bad_responses"] = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        result["socket_errors"] = sum(int(g) for g in m.groups())
    return result


def check(url: str, headers: dict[str, str]) -> str | None:
    """None when the URL answers 200, else why not."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except OSError as exc:
        return str(exc)


def measure(
    server: Server,
    m: Measurement,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
) -> Measurement:
    headers = headers or {}
    problem = check(server.url(m.path), headers)
    if problem:
        m.note = f"not measured: {m.path} answered {problem}"
        log(m.note)
        return m
    wrk(server.url(m.path), 1, connections, headers)  # warm-up: caches, pools, templates
    with server.sampling():
        result = wrk(server.url(m.path), seconds, connections, headers)
    for key, value in result.items():
        setattr(m, key, value)
    m.peak_pss_mb = server.peak_memory / 2**20
    log(
        f"{m.setup:<12} {m.backend:<10} {m.packages:>7,} {m.page:<14} "
        f"{m.rps:8.0f} rps  p50 {m.p50_ms:6.1f} ms  p99 {m.p99_ms:6.1f} ms"
    )
    return m


def pages(targets: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    name, version, words = targets["name"], targets["version"], targets["words"]
    return [
        ("home", "/", {}),
        ("project", f"/project/{name}/", {}),
        ("release", f"/project/{name}/{version}/", {}),
        ("search name", f"/search/?q={name}", {}),
        ("search words", f"/search/?q={words}", {}),
        ("simple html", f"/simple/{name}/", {}),
        ("simple json", f"/simple/{name}/", {"Accept": PEP691_JSON}),
        ("json api", f"/pypi/{name}/json", {}),
    ]


# ---- pypiserver -------------------------------------------------------------


def peer_python() -> str:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        log(f"creating {PEER_VENV} with {' '.join(PEER_REQUIREMENTS)}")
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_REQUIREMENTS], check=True)
    return str(python)


def peer_directory(workdir: Path, targets: dict[str, str], others: int = 50) -> Path:
    """The target project's files (dummy bytes) and those of ``others`` more projects."""
    directory = workdir / "pypiserver-packages"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    filenames = json.loads(targets["filenames"])
    for n in range(others):
        filenames += [f"other_{n}-1.{v}.tar.gz" for v in range(10)]
        filenames += [f"other_{n}-1.{v}-py3-none-any.whl" for v in range(10)]
    for filename in filenames:
        (directory / filename).write_bytes(f"synthetic bytes of {filename}\n".encode() * 64)
    return directory


# ---- the memory run -------------------------------------------------------------


def soak_paths(ds: Dataset, projects: int = 5000) -> list[str]:
    """Many different pages, as real traffic asks for: fills (and churns) the page cache."""
    import sqlalchemy as sa

    engine = sa.create_engine(ds.url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT normalized_name, summary FROM packages ORDER BY random() LIMIT :n"),
            {"n": projects},
        ).all()
    engine.dispose()
    paths = []
    for name, summary in rows:
        paths += [f"/project/{name}/", f"/simple/{name}/", f"/pypi/{name}/json"]
        words = [w for w in re.findall(r"[a-z]+", (summary or "").lower()) if len(w) > 3]
        if len(words) >= 2 and len(paths) % 5 == 0:
            paths.append(f"/search/?q={words[0]}+{words[1]}")
    return paths


def wrk_script(paths: list[str], directory: Path) -> Path:
    """A wrk Lua script asking for a random one of ``paths`` each time."""
    script = directory / "soak.lua"
    listed = ",\n".join(json.dumps(p) for p in paths)
    script.write_text(
        f"local paths = {{\n{listed}\n}}\n"
        "math.randomseed(os.time())\n"
        "request = function()\n"
        '  return wrk.format("GET", paths[math.random(#paths)])\n'
        "end\n",
        encoding="utf-8",
    )
    return script


def memory_run(python, ds, setup, threads, seconds, connections, workdir) -> dict:
    paths = soak_paths(ds)
    script = wrk_script(paths, workdir)
    log(
        f"memory run: {seconds:.0f} s of {len(paths):,} different pages on "
        f"{ds.backend} {ds.packages:,} ({setup.name})"
    )
    with Server(python, ["--db-url", ds.url, *setup.serve_args], setup.processes, threads) as s:
        # Warm-up: templates, pools, and the page cache most of the way to its bound.
        wrk(s.url("/"), max(5.0, seconds / 5), connections, {}, script)
        with s.sampling():
            result = wrk(s.url("/"), seconds, connections, {}, script)
        start = s.samples[0][0]
        by_minute = {}
        for moment, rss in s.samples:
            by_minute[int((moment - start) // 60)] = rss / 2**20
        rss = [r for _, r in s.samples]
    return {
        "seconds": seconds,
        "pages": len(paths),
        "setup": setup.name,
        "backend": ds.backend,
        "packages": ds.packages,
        "rps": result["rps"],
        "p99_ms": result["p99_ms"],
        "bad_responses": result["bad_responses"],
        "first_mb": rss[0] / 2**20,
        "last_mb": rss[-1] / 2**20,
        "peak_mb": max(rss) / 2**20,
        # PSS at the end of each minute: flat is what matters, not the level.
        "minutes_mb": [round(by_minute[m]) for m in sorted(by_minute)],
    }


# ---- how stale a listening cache can be -----------------------------------------


def _stale_window(server: Server, name: str, url: str, window: float = 0.05) -> tuple:
    """Journal a change to ``name`` as another process would, then ask for its JSON page
    over new connections (either worker may answer) for ``window`` seconds. Returns, in
    ms after the commit, when the last request answered with the old page was sent and
    when its answer came (the change was heard between the two), or (0.0, 0.0)."""
    from sqlalchemy import insert, update

    from pypi_web.models import JournalEntry, Package, get_engine

    engine = get_engine({"sqlalchemy.url": url})
    try:
        with engine.begin() as connection:
            serial = connection.scalar(
                insert(JournalEntry)
                .values(package_name=name, action="bench: staleness probe")
                .returning(JournalEntry.id)
            )
            connection.execute(
                update(Package).where(Package.name == name).values(last_serial=serial)
            )
        committed = time.perf_counter()
        last_stale = (committed, committed)
        while time.perf_counter() - committed < window:
            sent = time.perf_counter()
            with urllib.request.urlopen(server.url(f"/pypi/{name}/json"), timeout=10) as response:
                shown = json.load(response)["last_serial"]
            if shown != serial:
                last_stale = (sent, time.perf_counter())
        return tuple((moment - committed) * 1000 for moment in last_stale)
    finally:
        engine.dispose()


def staleness(python, ds, setup, threads, connections, rounds: int = 40) -> dict:
    """With the cache listening (Postgres), how long after another process's commit a
    worker may still serve the old page: idle, then with wrk loading the server."""
    from sqlalchemy import select

    from pypi_web.models import Package, get_engine

    engine = get_engine({"sqlalchemy.url": ds.url})
    with engine.connect() as connection:
        probe = connection.scalar(
            select(Package.name).where(Package.name != ds.targets["name"]).order_by(Package.id)
        )
    engine.dispose()
    result = {"setup": setup.name, "backend": ds.backend, "packages": ds.packages}
    with Server(
        python, ["--db-url", ds.url, *setup.serve_args], setup.processes, threads
    ) as server:
        check(server.url(f"/pypi/{probe}/json"), {})
        for label in ("idle", "loaded"):
            load = None
            if label == "loaded":
                path = server.url(f"/simple/{ds.targets['name']}/")
                load = threading.Thread(target=wrk, args=(path, rounds * 0.1 + 3, connections, {}))
                load.start()
                time.sleep(1)
            windows = [_stale_window(server, probe, ds.url) for _ in range(rounds)]
            if load is not None:
                load.join()
            stale = [w for w in windows if w[1] > 0]
            result[label] = {
                "rounds": rounds,
                "stale_rounds": len(stale),
                "max_sent_ms": max((w[0] for w in stale), default=0.0),
                "max_answered_ms": max((w[1] for w in stale), default=0.0),
            }
            log(f"staleness ({label}): {result[label]}")
    return result


# ---- alembic ----------------------------------------------------------------


def time_alembic(ds: Dataset, steps: int) -> dict:
    """Seconds for `alembic upgrade head` over the last ``steps`` revisions (and back down)."""
    alembic = [str(Path(sys.executable).parent / "alembic"), "-x", f"db_url={ds.url}"]
    started = time.perf_counter()
    subprocess.run([*alembic, "downgrade", f"-{steps}"], cwd=ROOT, check=True, capture_output=True)
    down = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run([*alembic, "upgrade", "head"], cwd=ROOT, check=True, capture_output=True)
    up = time.perf_counter() - started
    log(f"alembic on {ds.backend} {ds.packages:,}: down {steps} in {down:.1f} s, up {up:.1f} s")
    return {
        "backend": ds.backend,
        "packages": ds.packages,
        "releases": ds.packages * 10,
        "steps": steps,
        "downgrade_s": down,
        "upgrade_s": up,
    }


# ---- the report ---------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def report(results: list[Measurement], alembic: list[dict], meta: dict) -> str:
    lines = [
        f"pypi_web benchmark, {meta['started']} ({'quick' if meta['quick'] else 'full'})",
        f"machine: {meta['machine']}; wrk -t2 -c{meta['connections']} -d{meta['seconds']}s",
        f"setups: {meta['setups']}",
        "",
    ]
    # A set-up without the page cache is held to the hello-world of its process count.
    hello_of = meta["hello_setup"]
    hello = {m.setup: m for m in results if m.page == "hello world"}
    peer = {m.setup: m for m in results if m.page == "pypiserver"}
    hello = {name: hello[of] for name, of in hello_of.items() if of in hello}
    peer = {name: peer[of] for name, of in hello_of.items() if of in peer}
    small, big = min(meta["sizes"]), max(meta["sizes"])
    by_key = {(m.setup, m.backend, m.packages, m.page): m for m in results}
    header = (
        f"{'setup':<12} {'backend':<10} {'packages':>8} {'page':<14} {'req/s':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'/hello':>6} {'/peer':>6} {'big/sm':>6} {'PSS MB':>7}"
    )
    lines += [header, "-" * len(header)]
    for m in results:
        vs_hello = ratio(m.rps, hello[m.setup].rps) if m.setup in hello else "-"
        vs_peer = "-"
        if m.page.startswith("simple") and m.setup in peer:
            vs_peer = ratio(m.rps, peer[m.setup].rps)
        vs_small = "-"
        if m.packages == big and big != small:
            base = by_key.get((m.setup, m.backend, small, m.page))
            vs_small = ratio(m.rps, base.rps) if base else "-"
        lines.append(
            f"{m.setup:<12} {m.backend:<10} {m.packages:>8,} {m.page:<14} {m.rps:>8.0f} "
            f"{m.p50_ms:>7.1f} {m.p99_ms:>7.1f} {vs_hello:>6} {vs_peer:>6} {vs_small:>6} "
            f"{m.peak_pss_mb:>7.0f}"
            + (f"  {m.note}" if m.note else "")
            + (f"  ({m.bad_responses} bad responses)" if m.bad_responses else "")
        )
    lines += [
        "",
        "/hello: req/s against hello-world on the same server setup (targets: simple >= 0.5,",
        "        HTML pages >= 0.2); /peer: against pypiserver's /simple/<name>/ (target >= 5);",
        f"big/sm: req/s at {big:,} packages against {small:,} (target: >= 1/1.3 = 0.77).",
    ]
    if meta.get("upstream"):
        lines += ["", *upstream_report(results)]
    if meta.get("generate"):
        lines.append("")
        for g in meta["generate"]:
            lines.append(
                f"generate: {g['backend']} {g['packages']:,} packages / {g['packages'] * 10:,} "
                f"releases / {g['packages'] * 20:,} files in {g['seconds']:.1f} s"
            )
    for a in alembic:
        lines.append(
            f"alembic: {a['backend']} {a['releases']:,} releases: downgrade {a['steps']} "
            f"revisions {a['downgrade_s']:.1f} s, upgrade head {a['upgrade_s']:.1f} s"
        )
    if meta.get("staleness"):
        st = meta["staleness"]
        lines.append(
            f"staleness ({st['setup']}, {st['backend']} {st['packages']:,}, page cache "
            "listening): requests right after another process's commit"
        )
        for label in ("idle", "loaded"):
            r = st[label]
            lines.append(
                f"        {label}: {r['stale_rounds']} of {r['rounds']} commits got an old page; "
                f"the latest such request was sent {r['max_sent_ms']:.1f} ms after the commit "
                f"and answered at {r['max_answered_ms']:.1f} ms"
            )
    if meta.get("soak"):
        s = meta["soak"]
        lines += [
            f"memory: {s['seconds']:.0f} s of {s['pages']:,} different pages at random "
            f"({s['setup']}, {s['backend']} {s['packages']:,}; {s['rps']:.0f} req/s, "
            f"p99 {s['p99_ms']:.1f} ms, {s['bad_responses']} bad responses)",
            f"        PSS {s['first_mb']:.0f} MB after warm-up, {s['last_mb']:.0f} MB at the end, "
            f"peak {s['peak_mb']:.0f} MB; at each minute: "
            + ", ".join(f"{mb} MB" for mb in s["minutes_mb"]),
        ]
    return "\n".join(lines) + "\n"


# ---- upstream indexes -------------------------------------------------------

BIG_RELEASES = 2000


def _fresh_migrated(backend: str, name: str, workdir: Path) -> str:
    """A new, empty database at the Alembic head."""
    from alembic import command

    from pypi_web.migrations import alembic_config, migration_engine

    if backend == "sqlite":
        path = workdir / f"{name}.sqlite"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        url = _postgres_database(name, fresh=True)
    engine = migration_engine(url)
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
    engine.dispose()
    return url


def big_project(backend: str, workdir: Path, reuse: bool) -> tuple[str, str]:
    """(URL, name) of a database holding one project of 2,000 releases (4,000 files)."""
    import sqlalchemy as sa
    from synthetic import generate, vacuum_after_bulk_load  # bench/synthetic.py

    from pypi_web.models import get_engine

    name = "pypi_web_bench_big_project"
    url = f"sqlite:///{workdir / (name + '.sqlite')}" if backend == "sqlite" else None
    url = url or _postgres_database(name, fresh=False)
    if not (reuse and _package_count(url) == 1):
        url = _fresh_migrated(backend, name, workdir)
        engine = get_engine({"sqlalchemy.url": url})
        with engine.begin() as connection:
            generate(connection, 1, BIG_RELEASES, 2 * BIG_RELEASES, seed=2)
        vacuum_after_bulk_load(engine)
        engine.dispose()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        project = conn.execute(sa.text("SELECT normalized_name FROM packages")).scalar_one()
    engine.dispose()
    return url, project


@dataclass(frozen=True)
class Code:
    """Which pypi_web a server runs: this tree's (``tree`` None) or a baseline's."""

    suffix: str = ""
    tree: Path | None = None


def baseline_code(ref: str, workdir: Path) -> Code:
    """``ref``'s pypi_web, extracted from git, for before/after rows in one run."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tree = workdir / f"baseline-{commit}"
    if not (tree / "pypi_web").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "pypi_web"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return Code(f"@{ref}", tree)


def upstream_rows(python, ds, setup, threads, seconds, connections, workdir, codes) -> list:
    """A cached upstream /simple/<name>/ against the same page served locally: a second
    site whose upstream is the first, its cache filled by the first request. With a
    baseline, each row is measured on each code in turn (interleaved)."""
    path = f"/simple/{ds.targets['name']}/"
    rows = []
    with contextlib.ExitStack() as stack:
        pairs = []
        for n, code in enumerate(codes):
            mirror_db = _fresh_migrated(ds.backend, f"pypi_web_bench_mirror{n or ''}", workdir)
            local_args = ["--db-url", ds.url, *setup.serve_args]
            local = stack.enter_context(
                Server(python, local_args, setup.processes, threads, code.tree)
            )
            mirror_args = ["--db-url", mirror_db, "--upstream", local.url("/simple/")]
            mirror = stack.enter_context(
                Server(python, mirror_args + setup.serve_args, setup.processes, threads, code.tree)
            )
            pairs.append((code, local, mirror))
        for label, headers in (("html", {}), ("json", {"Accept": PEP691_JSON})):
            for where in ("local", "upstream"):
                for code, local, mirror in pairs:
                    server = local if where == "local" else mirror
                    m = Measurement(
                        setup.name + code.suffix, ds.backend, ds.packages, f"{where} {label}", path
                    )
                    rows.append(measure(server, m, seconds, connections, headers))
    return rows


def big_project_rows(python, backend, workdir, reuse, threads, seconds, codes) -> list:
    """A project of 2,000 versions, every page made afresh (page cache off), one at a time."""
    url, name = big_project(backend, workdir, reuse)
    rows = []
    pages_of = (
        ("2000v simple", f"/simple/{name}/", {}),
        ("2000v s-json", f"/simple/{name}/", {"Accept": PEP691_JSON}),
        ("2000v project", f"/project/{name}/", {}),
    )
    with contextlib.ExitStack() as stack:
        servers = [
            (
                code,
                stack.enter_context(
                    Server(python, ["--db-url", url, "--no-page-cache"], 1, threads, code.tree)
                ),
            )
            for code in codes
        ]
        for page, path, headers in pages_of:
            for code, server in servers:
                m = Measurement("x1-nocache-c1" + code.suffix, backend, 1, page, path)
                rows.append(measure(server, m, seconds, 1, headers))
    return rows


def upstream_report(results: list) -> list[str]:
    by = {(m.setup, m.backend, m.page): m for m in results}
    lines = []
    for (setup, backend, page), m in by.items():
        if page.startswith("upstream "):
            local = by.get((setup, backend, "local " + page.split()[1]))
            lines.append(
                f"upstream: {setup} {backend} cached upstream /simple/ {page.split()[1]}: "
                f"{ratio(m.rps, local.rps if local else 0)} of the local page's req/s, "
                f"p50 {m.p50_ms:.1f} ms against {local.p50_ms if local else 0:.1f} ms "
                "(target >= 0.77, within 1.3x)"
            )
        if page.startswith("2000v"):
            lines.append(
                f"2,000 versions: {backend} {page.removeprefix('2000v ')} made afresh "
                f"(one connection): p50 {m.p50_ms:.1f} ms, p99 {m.p99_ms:.1f} ms "
                "(target: under 100 ms)"
            )
    return lines + _against_baseline(by)


def _against_baseline(by: dict) -> list[str]:
    """This tree's row against the baseline's (--baseline), measured interleaved."""
    lines = []
    for (setup, backend, page), before in by.items():
        if "@" not in setup:
            continue
        after = by.get((setup.split("@")[0], backend, page))
        if after is None or not before.rps or not before.p50_ms:
            continue
        lines.append(
            f"after/{setup.split('@')[1]}: {setup.split('@')[0]} {backend} {page}: "
            f"req/s {ratio(after.rps, before.rps)}, p50 {after.p50_ms:.1f} ms against "
            f"{before.p50_ms:.1f} ms ({ratio(after.p50_ms, before.p50_ms)})"
        )
    return lines


# ---- main -------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    parser.add_argument("--sizes", help="package counts, e.g. 1000,100000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, help="each measurement's duration")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=4, help="waitress threads per process")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 2, help="for the multi-process setup"
    )
    parser.add_argument("--soak", type=float, help="seconds of the memory run (0 = none)")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pypi-web-bench"
    )
    parser.add_argument("--no-reuse", action="store_true", help="regenerate the databases")
    parser.add_argument("--no-alembic", action="store_true")
    parser.add_argument(
        "--upstream-only",
        action="store_true",
        help="only the upstream rows (cached upstream page, 2,000 versions)",
    )
    parser.add_argument(
        "--baseline",
        metavar="GIT_REF",
        help="also measure the upstream rows on this commit's pypi_web, interleaved",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    sizes = [
        int(s) for s in (args.sizes or ("1000,10000" if args.quick else "1000,100000")).split(",")
    ]
    seconds = args.seconds or (3 if args.quick else 10)
    soak = args.soak if args.soak is not None else (0 if args.quick else 300)
    backends = args.backends.split(",")
    many = args.processes
    setups = [
        Setup("waitress", 1),
        Setup(f"waitressx{many}", many),
        # Every page made afresh: what a first view (a page not yet cached) costs.
        Setup(f"x{many}-nocache", many, page_cache=False),
        # Postgres' cache reading a serial per request (strict) instead of listening.
        Setup(f"x{many}-query", many, invalidation="query", backends=("postgresql",)),
    ]
    args.workdir.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "connections": args.connections,
        "seconds": seconds,
        "sizes": sizes,
        "setups": ", ".join(
            f"{s.name} ({s.processes} process{'es' if s.processes > 1 else ''} x "
            f"{args.threads} threads"
            + (", SO_REUSEPORT" if s.processes > 1 else "")
            + ("" if s.page_cache else ", page cache off")
            + (f", {s.invalidation} invalidation" if s.invalidation else "")
            + (f", {'/'.join(s.backends)} only" if s.backends else "")
            + ")"
            for s in setups
        ),
        # Hello-world and pypiserver run once per process count.
        "hello_setup": {
            s.name: next(h.name for h in setups if h.processes == s.processes) for s in setups
        },
        "generate": [],
    }
    datasets = []
    for backend in backends:
        for size in sizes:
            ds = dataset(backend, size, args.workdir, reuse=not args.no_reuse)
            ds.targets = pick_targets(ds)
            if ds.generate_seconds is not None:
                meta["generate"].append(
                    {"backend": backend, "packages": size, "seconds": ds.generate_seconds}
                )
            datasets.append(ds)

    results: list[Measurement] = []
    python = sys.executable
    meta["upstream"] = True
    codes = [Code()]
    if args.baseline:
        codes.insert(0, baseline_code(args.baseline, args.workdir))
        meta["baseline"] = args.baseline
    for ds in (d for d in datasets if d.packages == max(sizes)):
        results += upstream_rows(
            python, ds, setups[1], args.threads, seconds, args.connections, args.workdir, codes
        )
    for backend in backends:
        results += big_project_rows(
            python, backend, args.workdir, not args.no_reuse, args.threads, seconds, codes
        )
    if args.upstream_only:
        soak, setups, args.no_alembic = 0, [], True
    else:
        peer = peer_python()
        peer_dir = peer_directory(args.workdir, datasets[0].targets)
        peer_name = datasets[0].targets["name"]
    for setup in setups:
        if meta["hello_setup"][setup.name] == setup.name:
            with Server(python, ["--hello"], setup.processes, args.threads) as server:
                m = Measurement(setup.name, "-", 0, "hello world", "/")
                results.append(measure(server, m, seconds, args.connections))
            with Server(peer, ["--peer", str(peer_dir)], setup.processes, args.threads) as server:
                m = Measurement(setup.name, "files", 0, "pypiserver", f"/simple/{peer_name}/")
                results.append(measure(server, m, seconds, args.connections))
        for ds in datasets:
            if setup.backends is not None and ds.backend not in setup.backends:
                continue
            serve_args = ["--db-url", ds.url, *setup.serve_args]
            with Server(python, serve_args, setup.processes, args.threads) as server:
                for page, path, headers in pages(ds.targets):
                    m = Measurement(setup.name, ds.backend, ds.packages, page, path)
                    results.append(measure(server, m, seconds, args.connections, headers))

    if soak:
        ds = max(datasets, key=lambda d: (d.packages, d.backend == "postgresql"))
        meta["soak"] = memory_run(
            python, ds, setups[1], args.threads, soak, args.connections, args.workdir
        )

    listening = [s for s in setups if s.processes > 1 and s.page_cache and not s.invalidation]
    postgres = [d for d in datasets if d.backend == "postgresql"]
    if listening and postgres:
        meta["staleness"] = staleness(
            python,
            max(postgres, key=lambda d: d.packages),
            listening[0],
            args.threads,
            args.connections,
        )

    alembic = []
    if not args.no_alembic:
        for backend in backends:
            ds = max((d for d in datasets if d.backend == backend), key=lambda d: d.packages)
            alembic.append(time_alembic(ds, ALEMBIC_STEPS))

    text = report(results, alembic, meta)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"bench-{stamp}.txt").write_text(text, encoding="utf-8")
    (RESULTS / f"bench-{stamp}.json").write_text(
        json.dumps(
            {"meta": meta, "results": [asdict(m) for m in results], "alembic": alembic},
            indent=2,
        ),
        encoding="utf-8",
    )
    print(text)
    log(f"written to {RESULTS / f'bench-{stamp}.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
