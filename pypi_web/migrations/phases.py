"""Expand and contract: which revisions a deploy runs before the new code, and which after.

Every revision file states its phase in a module-level ``phase``:

``expand``    the release before it keeps working on the schema it leaves (new
              tables, nullable or defaulted columns, new indexes, backfills)
``contract``  it removes or narrows what the release before reads or writes
              (drops, renames, a NOT NULL that code does not fill, a narrower
              type, a tighter constraint)

A deploy runs in two steps. The pre-deploy step, a plain ``alembic upgrade
head`` (``pypi-web-db upgrade CONFIG``), runs while the previous release
still serves: it applies the pending revisions up to, not including, the
first pending contract revision. The post-deploy step, ``pypi-web-db
contract CONFIG`` (``alembic -x contract=true upgrade head``), runs once
every server runs the new code: it applies the rest. env.py holds the
contract revisions back (``pre_deploy_steps``); the history itself stays one
ordinary Alembic chain. Two cases apply everything at once: a database with
no revision yet (no release serves it) and an upgrade to a named revision
other than the head (the operator chose where to stop).

The lint (lint.py) checks that each file declares the phase its operations
call for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from alembic.script import Script, ScriptDirectory

EXPAND = "expand"
CONTRACT = "contract"
PHASES = (EXPAND, CONTRACT)

POST_DEPLOY_COMMAND = "pypi-web-db contract CONFIG"
POST_DEPLOY_ALEMBIC = "alembic -x contract=true upgrade head"


def phase_of(revision: Script) -> str:
    """The phase a revision declares; anything else counts as contract (held back, safe)."""
    phase = getattr(revision.module, "phase", None)
    return phase if phase in PHASES else CONTRACT


def split_pending(script: ScriptDirectory, pending: Sequence[str]) -> tuple[list[str], list[str]]:
    """(what the pre-deploy step applies, what waits for the post-deploy step), oldest first."""
    for index, revision in enumerate(pending):
        if phase_of(script.get_revision(revision)) == CONTRACT:
            return list(pending[:index]), list(pending[index:])
    return list(pending), []


def pre_deploy_steps(steps: Iterable) -> tuple[list, list]:
    """Alembic's upgrade steps cut before the first contract revision: (run, held back)."""
    steps = list(steps)
    for index, step in enumerate(steps):
        revision = getattr(step, "revision", None)
        if isinstance(revision, Script) and step.is_upgrade and phase_of(revision) == CONTRACT:
            return steps[:index], steps[index:]
    return steps, []


def describe(revision: Script) -> str:
    doc = (revision.doc or "").strip().splitlines()
    return f"{revision.revision} ({doc[0]})" if doc else revision.revision


def servable_heads(script: ScriptDirectory, database_revision: str) -> list[str]:
    """The code heads (releases) of this history that can serve a database at the revision.

    Older code serves while every revision above its head is expand; newer code
    while every revision it has and the database lacks is contract (what the
    post-deploy step removes, which that code no longer uses). Oldest first.
    """
    chain = [r.revision for r in reversed(list(script.walk_revisions()))]
    if database_revision not in chain:
        return []
    at = chain.index(database_revision)
    oldest = at
    while oldest > 0 and phase_of(script.get_revision(chain[oldest])) == EXPAND:
        oldest -= 1
    newest = at
    while newest + 1 < len(chain) and phase_of(script.get_revision(chain[newest + 1])) == CONTRACT:
        newest += 1
    return chain[oldest : newest + 1]
