"""Journey 5, consume: a uv project and pip-compile resolve against the index and lock it.

The lock records, for each file, the URL on this index, its sha256, its size
and its upload time (uv.lock), or its hashes (pip-compile --generate-hashes);
``uv sync`` installs from it and the project imports.
"""

from __future__ import annotations

import datetime
import hashlib
import sys
import tomllib

import pytest

from .conftest import run, tool, twine_upload

NAME = "journey-consume"

pytestmark = pytest.mark.slow


def uploaded(server) -> dict[str, dict]:
    return {f["filename"]: f for f in server.json(f"/pypi/{NAME}/1.0/json")["urls"]}


def test_uv_lock_and_sync_against_the_index(
    journey_server, journey_dists, client_env, tmp_path, client_versions
):
    server = journey_server
    built = journey_dists[(NAME, "1.0")]
    twine_upload(server, server.user_with_token("consumer"), built.files, client_env)

    app = tmp_path / "app"
    app.mkdir()
    (app / "pyproject.toml").write_text(
        '[project]\nname = "consumer-app"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
        f'dependencies = ["{NAME}"]\n\n'
        "[tool.uv]\npackage = false\n\n"
        f'[[tool.uv.index]]\nname = "journeys"\nurl = "{server.simple}"\ndefault = true\n'
    )
    run([tool("uv"), "lock", "--python", sys.executable], env=client_env, cwd=app)
    lock = tomllib.loads((app / "uv.lock").read_text())
    [locked] = [p for p in lock["package"] if p["name"] == NAME]
    assert locked["version"] == "1.0"
    assert locked["source"] == {"registry": server.simple}
    files = uploaded(server)
    for entry in [locked["sdist"], *locked["wheels"]]:
        filename = entry["url"].rsplit("/", 1)[-1]
        local = next(f for f in built.files if f.name == filename)
        assert entry["url"].startswith(server.url + "/files/")
        assert entry["hash"] == "sha256:" + hashlib.sha256(local.read_bytes()).hexdigest()
        assert entry["size"] == local.stat().st_size
        upload_time = entry["upload-time"]
        if isinstance(upload_time, str):
            upload_time = datetime.datetime.fromisoformat(upload_time.replace("Z", "+00:00"))
        served = datetime.datetime.fromisoformat(files[filename]["upload_time_iso_8601"])
        assert abs(upload_time - served) < datetime.timedelta(seconds=1), (upload_time, served)

    run([tool("uv"), "sync", "--python", sys.executable, "--locked"], env=client_env, cwd=app)
    imported = run(
        [app / ".venv" / "bin" / "python", "-c", "import journey_consume as m; print(m.VALUE)"]
    )
    assert imported.stdout.strip() == f"{NAME} 1.0"


def test_pip_compile_generate_hashes_against_the_index(
    journey_server, journey_dists, client_env, tmp_path
):
    server = journey_server
    built = journey_dists[(NAME, "1.0")]
    twine_upload(server, server.user_with_token("consumer"), built.files, client_env)
    (tmp_path / "requirements.in").write_text(f"{NAME}\n")
    run(
        [
            tool("pip-compile"),
            "--generate-hashes",
            "--index-url",
            server.simple,
            "--no-header",
            "--cache-dir",
            tmp_path / "pip-tools-cache",
            "--output-file",
            "requirements.txt",
            "requirements.in",
        ],
        env=client_env,
        cwd=tmp_path,
    )
    locked = (tmp_path / "requirements.txt").read_text()
    assert f"{NAME}==1.0" in locked
    for local in built.files:
        assert f"--hash=sha256:{hashlib.sha256(local.read_bytes()).hexdigest()}" in locked
