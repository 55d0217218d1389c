"""pypi_web under load: a mix of cached and cold pages, searches and uploads at 64
connections for 60 s against the production set-up, on SQLite and Postgres.

    .venv/bin/python bench/load.py                      # both backends, 60 s each
    .venv/bin/python bench/load.py --backends sqlite --seconds 20

The server is `pypi-web-serve` with production.ini as it stands (its [server:main]
limits and threads, its app settings), 2 workers, on a database bench/run.py's
helpers generate afresh. Reports throughput, p50 and p99 latency, errors (non-2xx/3xx
answers and socket errors), timeouts and the server's memory. See bench/README.md.
Not part of the test suite: it asserts nothing, it measures.
"""

from __future__ import annotations

import argparse
import base64
import configparser
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py: databases, servers, wrk, memory

PRODUCTION_INI = run.ROOT / "production.ini"
BOUNDARY = "pypi-web-load-boundary-7f3a"
# What a request is, by share: pages the cache holds, pages it does not (many
# different projects), searches, uploads.
MIX = {"cached": 0.40, "cold": 0.35, "search": 0.22, "upload": 0.03}


def production_threads() -> int:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(PRODUCTION_INI)
    return int(parser.get("server:main", "threads", fallback="4"))


def api_token(ds: run.Dataset, username: str) -> str:
    """An account and its API token, made by the operator's command."""
    env = {
        **os.environ,
        "PYPI_WEB_DATABASE_URL": ds.url,
        "PYPI_WEB_SECRET": "benchmark-only-session-secret-0123456789",
    }
    command = Path(sys.executable).parent / "pypi-web-user"
    out = subprocess.run(
        [str(command), "create", str(PRODUCTION_INI), username, "--no-password", "--token"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().splitlines()[-1]


def sdist(name: str, version: str) -> tuple[str, bytes]:
    dist = f"{name.replace('-', '_')}-{version}"
    buffer = io.BytesIO()
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, data in (("PKG-INFO", pkg_info), ("setup.py", b"# load test\n")):
            info = tarfile.TarInfo(f"{dist}/{member}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return f"{dist}.tar.gz", buffer.getvalue()


def upload_body(name: str, version: str) -> bytes:
    """The multipart form twine sends for one sdist."""
    filename, content = sdist(name, version)
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": name,
        "version": version,
        "filetype": "sdist",
        "pyversion": "source",
        "summary": f"Uploaded by the load test ({name})",
        "sha256_digest": hashlib.sha256(content).hexdigest(),
    }
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def write_uploads(directory: Path, stamp: str, threads: int, per_thread: int) -> None:
    """Bodies ``<thread>-<n>.body``: each wrk thread uploads new versions of its own project."""
    directory.mkdir(parents=True, exist_ok=True)
    for thread in range(1, threads + 1):
        name = f"load-{stamp}-{thread}"
        for n in range(per_thread):
            (directory / f"{thread}-{n}.body").write_bytes(upload_body(name, f"1.0.{n}"))


def lua_list(values: list[str]) -> str:
    return "{\n" + ",\n".join(json.dumps(v) for v in values) + "\n}"


def mix_script(workdir: Path, targets: dict, cold: list[str], searches: list[str], auth: str):
    """A wrk script drawing each request from MIX, counting the answers by status."""
    name, version = targets["name"], targets["version"]
    cached = ["/", f"/project/{name}/", f"/project/{name}/{version}/", f"/simple/{name}/"]
    cached.append(f"/pypi/{name}/json")
    limits = []
    total = 0.0
    for kind in ("upload", "cached", "cold"):
        total += MIX[kind]
        limits.append(total)
    script = workdir / "load.lua"
    script.write_text(
        f"""
local cached = {lua_list(cached)}
local cold = {lua_list(cold)}
local searches = {lua_list(searches)}
local uploads = {json.dumps(str(workdir / "uploads"))}
local upload_headers = {{
  ["Content-Type"] = "multipart/form-data; boundary={BOUNDARY}",
  ["Authorization"] = {json.dumps(auth)},
}}
local threads = {{}}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  statuses = {{}}
  next_upload = 0
  math.randomseed(os.time() + id * 7919)
end

local function pick(list)
  return wrk.format("GET", list[math.random(#list)])
end

local function upload()
  local file = io.open(string.format("%s/%d-%d.body", uploads, id, next_upload), "rb")
  if file == nil then return pick(cached) end
  local body = file:read("*a")
  file:close()
  next_upload = next_upload + 1
  return wrk.format("POST", "/legacy/", upload_headers, body)
end

function request()
  local r = math.random()
  if r < {limits[0]} then return upload() end
  if r < {limits[1]} then return pick(cached) end
  if r < {limits[2]} then return pick(cold) end
  return pick(searches)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = {{}}
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("statuses")) do
      total[key] = (total[key] or 0) + count
    end
  end
  for key, count in pairs(total) do
    io.write(string.format("status %s %d\\n", key, count))
  end
end
""",
        encoding="utf-8",
    )
    return script


def wrk_mix(url: str, script: Path, seconds: float, connections: int, timeout: float) -> dict:
    cmd = ["wrk", "--latency", "-t", "2", "-c", str(connections), "-d", f"{round(seconds)}s"]
    cmd += ["--timeout", f"{max(1, round(timeout))}s", "-s", str(script), url]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    out = done.stdout
    statuses = {int(s): int(n) for s, n in re.findall(r"^status (\d+) (\d+)$", out, re.M)}
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    connect, read, write, timeouts = map(int, socket_errors.groups()) if socket_errors else [0] * 4
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": run._ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99_ms": run._ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "statuses": statuses,
        "bad_responses": sum(n for s, n in statuses.items() if s >= 400),
        "socket_errors": connect + read + write,
        "timeouts": timeouts,
    }


def searches_of(cold_paths: list[str], targets: dict) -> list[str]:
    found = [p for p in cold_paths if p.startswith("/search/")]
    return [*found, f"/search/?q={targets['name']}", f"/search/?q={targets['words']}"]


def load_run(ds: run.Dataset, args, workdir: Path) -> dict:
    stamp = f"{ds.backend[:2]}{int(time.time())}"
    targets = run.pick_targets(ds)
    cold = run.soak_paths(ds, projects=args.projects)
    token = api_token(ds, f"load{stamp}")
    auth = "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode()
    expected_uploads = int(args.seconds * 1500 * MIX["upload"]) + 50
    write_uploads(workdir / "uploads", stamp, 2, expected_uploads)
    script = mix_script(workdir, targets, cold, searches_of(cold, targets), auth)
    threads = production_threads()
    serve_args = ["--db-url", ds.url, "--as-configured"]
    run.log(f"load on {ds.backend} {ds.packages:,}: {args.seconds:.0f} s, {args.connections} conn")
    with run.Server(sys.executable, serve_args, args.workers, threads) as server:
        for path in ("/", f"/project/{targets['name']}/"):
            problem = run.check(server.url(path), {})
            if problem:
                raise RuntimeError(f"{path} answered {problem}")
        with server.sampling():
            result = wrk_mix(server.url("/"), script, args.seconds, args.connections, args.timeout)
        memory = [m for _, m in server.samples]
    result.update(
        backend=ds.backend,
        packages=ds.packages,
        workers=args.workers,
        threads=threads,
        first_mb=memory[0] / 2**20,
        peak_mb=max(memory) / 2**20,
        last_mb=memory[-1] / 2**20,
    )
    run.log(summary_line(result))
    return result


def summary_line(r: dict) -> str:
    return (
        f"{r['backend']:<10} {r['packages']:>7,} {r['rps']:7.0f} req/s  p50 {r['p50_ms']:6.1f} ms"
        f"  p99 {r['p99_ms']:7.1f} ms  errors {r['bad_responses'] + r['socket_errors']:>4}"
        f"  timeouts {r['timeouts']:>4}  PSS {r['first_mb']:.0f}->{r['last_mb']:.0f} MB"
        f" (peak {r['peak_mb']:.0f})  statuses {dict(sorted(r['statuses'].items()))}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--packages", type=int, default=10000, help="size of the database")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=2, help="wrk's timeout, seconds")
    parser.add_argument("--projects", type=int, default=5000, help="projects of the cold pages")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pypi-web-bench"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    random.seed(1)
    results = []
    for backend in args.backends.split(","):
        # A database made afresh each run: the last run's uploads added projects to it.
        ds = run.dataset(backend, args.packages, args.workdir, reuse=False)
        results.append(load_run(ds, args, args.workdir))
    print(f"load: {args.connections} connections, {args.seconds:.0f} s, mix {MIX}")
    for result in results:
        print(summary_line(result))
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (run.RESULTS / f"load-{stamp}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
