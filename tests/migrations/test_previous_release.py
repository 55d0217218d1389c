"""The previous release keeps serving while today's release is deployed, on both backends.

A rolling deploy runs today's pre-deploy step while servers still run the
previous release; once every server runs today's code, the post-deploy step
runs. This test replays that on the top-100 data:

1. the previous release (the newest commit of this branch's history whose
   Alembic head differs from the working tree's, found by reading each
   commit's revision files with git, nothing checked out) is checked out with
   ``git worktree add --detach``;
2. that release builds its database as its own deploy did: its own
   ``alembic upgrade head`` (both of its steps) and its own importer;
3. today's pre-deploy step (``pypi-web-db upgrade``: contract revisions wait) migrates it;
4. the previous release's own tests/smoke run against it (its pypi_web
   imported, not today's);
5. today's post-deploy step (``pypi-web-db contract``), then today's tests/smoke.

Outside CI a clone without that history, or a previous release that predates
tests/smoke, skips with the reason; with CI=true it fails.
"""

from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pypi_web.migrations import PROJECT_ROOT, script_directory
from tests.conftest import skip_or_fail

# Where the revision files are, newest layout first (older commits kept them at the top).
VERSIONS_DIRS = ("pypi_web/alembic/versions", "alembic/versions")
# Bounds every step: an import or a smoke run that hangs fails instead of holding CI.
STEP_TIMEOUT = 900


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout


@functools.cache
def revision_ids(blob: str) -> tuple[str | None, tuple[str, ...]]:
    """(revision, down revisions) of one revision file, read from git's object store."""
    values: dict[str, object] = {}
    for node in ast.parse(git("cat-file", "blob", blob)).body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            values[target.id] = ast.literal_eval(node.value)
    down = values.get("down_revision")
    downs = () if down is None else (down,) if isinstance(down, str) else tuple(down)
    return values.get("revision"), downs


def heads_at(commit: str) -> frozenset[str]:
    """The Alembic heads of a commit's revision files (empty before Alembic)."""
    for directory in VERSIONS_DIRS:
        listing = git("ls-tree", commit, f"{directory}/")
        if listing:
            break
    else:
        return frozenset()
    revisions: set[str] = set()
    downs: set[str] = set()
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        _, kind, blob = meta.split()
        if kind == "blob" and path.endswith(".py"):
            revision, down = revision_ids(blob)
            if revision:
                revisions.add(revision)
                downs.update(down)
    return frozenset(revisions - downs)


def previous_release() -> str:
    """The newest commit of HEAD's history whose Alembic head is not the working tree's."""
    try:
        commits = git("rev-list", "HEAD").split()
    except (OSError, subprocess.CalledProcessError) as exc:
        skip_or_fail(f"no git history at {PROJECT_ROOT.name}/ to find the previous release: {exc}")
    today = frozenset(script_directory().get_heads())
    for commit in commits:
        heads = heads_at(commit)
        if heads and heads != today:
            return commit
    skip_or_fail(
        f"none of the {len(commits)} commits in this clone has an Alembic head other than "
        f"{', '.join(sorted(today))} (a shallow clone? CI must fetch the whole history)"
    )


@pytest.fixture(scope="module")
def previous_checkout(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """(commit, worktree) of the previous release; the worktree is removed afterwards."""
    commit = previous_release()
    subject = git("log", "-1", "--format=%h %s", commit).strip()
    if not git("ls-tree", commit, "tests/smoke/"):
        skip_or_fail(f"the previous release {subject} has no tests/smoke to run")
    worktree = tmp_path_factory.mktemp("previous-release") / "checkout"
    git("worktree", "add", "--detach", str(worktree), commit)
    try:
        yield subject, worktree
    finally:
        git("worktree", "remove", "--force", str(worktree))


def run_in(checkout: Path, *args: str, **env: str) -> str:
    """``python ARGS`` with ``checkout`` as cwd and first on the path (its pypi_web)."""
    environ = {**os.environ, "PYTHONPATH": str(checkout), **env}
    done = subprocess.run(
        [sys.executable, *args],
        cwd=checkout,
        env=environ,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"in {checkout.name}: python {' '.join(args)}\n{output[-6000:]}", pytrace=False)
    return output


def deploy_step(url: str, *, post: bool) -> None:
    """Today's pre-deploy step (``pypi-web-db upgrade``) or post-deploy step (``contract``)."""
    run_in(PROJECT_ROOT, "-m", "pypi_web.migrations.cli", "contract" if post else "upgrade", url)


def smoke(checkout: Path, url: str) -> None:
    output = run_in(
        checkout, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/smoke",
        PYPI_WEB_SMOKE_DB_URL=url,
    )  # fmt: skip
    assert " passed" in output and " skipped" not in output, output[-3000:]


def load_as_previous_release(checkout: Path, url: str, top100_dir: Path) -> None:
    """The previous release's schema (both of its steps) and data, made by its own code."""
    imported = run_in(checkout, "-c", "import pypi_web; print(pypi_web.__file__)")
    assert Path(imported.strip()).is_relative_to(checkout), imported
    # Both of its steps, as its deploy ran them; a release that predates them ignores -x contract.
    both_steps = ("-x", "contract=true", "upgrade", "head")
    run_in(checkout, "-m", "alembic", "-x", f"db_url={url}", *both_steps)
    run_in(checkout, "-m", "pypi_web.importer.cli", "--db-url", url, "--json-dir", str(top100_dir))


def test_previous_release_serves_after_todays_pre_deploy_step(
    previous_checkout, database_factory, top100_dir, record_property
):
    subject, checkout = previous_checkout
    url = database_factory.create("previous")
    seconds: dict[str, float] = {}

    def timed(step: str, function, *args, **kwargs) -> None:
        started = time.monotonic()
        function(*args, **kwargs)
        seconds[step] = round(time.monotonic() - started, 1)

    timed("previous release: schema and top-100 import", load_as_previous_release, checkout, url,
          top100_dir)  # fmt: skip
    timed("today's pre-deploy step", deploy_step, url, post=False)
    timed(f"previous release's smoke ({subject.split()[0]})", smoke, checkout, url)
    timed("today's post-deploy step", deploy_step, url, post=True)
    timed("today's smoke", smoke, PROJECT_ROOT, url)
    record_property("seconds", seconds)
    print(f"\n{database_factory.backend}: {seconds}")
