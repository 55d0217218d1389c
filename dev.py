#!/usr/bin/env python3
"""Set up, serve and test pypi_web with nothing but Python 3.11+.

    python3 dev.py serve   # virtualenv, install, alembic upgrade head, import real data, pserve
    python3 dev.py test    # virtualenv, install, the whole test suite (extra args go to pytest)

Everything is installed into ./.venv; a step that is already done is skipped.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
# The real PyPI documents shipped beside the project (see README).
TOP100 = Path(os.environ.get("PYPI_WEB_TOP100_DIR", ROOT.parent / "shared/data/pypi-top-100"))


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str | Path) -> None:
    cmd = [str(a) for a in args]
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"dev.py: '{' '.join(cmd)}' failed with exit code {result.returncode}")


def ensure_venv(extra: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py may be run by an older python3)
        sys.exit(f"dev.py: pypi_web needs Python 3.11 or newer, this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV.name}/")
        venv.create(VENV, with_pip=True)
        run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    # Reinstall only when the declared dependencies changed.
    stamp = VENV / f".installed-{extra}"
    digest = hashlib.sha256((ROOT / "setup.py").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        say(f'installing pypi_web and its dependencies (pip install -e ".[{extra}]")')
        run(PYTHON, "-m", "pip", "install", "--quiet", "-e", f".[{extra}]")
        stamp.write_text(digest)


def serve() -> None:
    ensure_venv("dev")
    say("bringing the development database up to date (alembic upgrade head)")
    run(BIN / "alembic", "upgrade", "head")
    sources = ["--installed"]
    if TOP100.is_dir():
        sources += ["--json-dir", str(TOP100)]
    else:
        say(f"{TOP100} not found: importing only the installed distributions")
    say("importing real package data")
    run(BIN / "pypi-web-import", "development.ini", *sources)
    say("serving http://localhost:6543 (Ctrl+C stops)")
    os.chdir(ROOT)
    os.execv(str(BIN / "pserve"), [str(BIN / "pserve"), "development.ini", "--reload"])


def test(pytest_args: list[str]) -> None:
    ensure_venv("testing")
    os.chdir(ROOT)
    os.execv(str(PYTHON), [str(PYTHON), "-m", "pytest", *pytest_args])


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("serve", "test"):
        sys.exit(__doc__)
    if argv[0] == "serve":
        serve()
    else:
        test(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
