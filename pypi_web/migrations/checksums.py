"""Applied revisions are tamper-evident: a checksum of each file, kept where it was applied.

A revision file edited after it ran somewhere no longer says what that
database went through: replaying the history elsewhere (a new staging, a
rehearsal, a test) builds something else, and nobody is told. As Flyway's
``validate`` and Atlas's ``atlas.sum`` do, every migration run records, in
``alembic_version_checksums`` beside ``alembic_version`` (bookkeeping, kept
out of autogenerate and schema comparisons like the lineage table), the
SHA-256 of each revision file it applied. ``pypi-web-db status`` reports a
revision whose file now differs as MODIFIED and fails; the start-up guard
logs it.

What is hashed: the file's bytes, with line endings normalised (CRLF and CR
to LF) and a leading UTF-8 byte-order mark dropped. A checkout on Windows
(git's autocrlf) or an editor's BOM is the same revision; any other change,
code, SQL, comments, whitespace or docstring, counts, because a revision's
meaning can hinge on any of them and a reviewer should look. Not the parsed
AST: ``ast.dump`` differs between Python versions, and the host that deploys
need not run the Python of the one that wrote the revision. One line is left
out: the module-level ``phase = "expand"`` / ``"contract"`` (phases.py), which
says when a deploy runs the revision, not what it does to the database, and
was added to revisions that had long been applied.

Databases migrated before checksums were kept have none: ``status`` says
"not recorded", and the next run that applies a revision records the
checksum of every revision already applied, as its files are then (trust on
first use), marked ``backfilled``. ``pypi-web-db checksums CONFIG`` lists
them; ``--accept REVISION`` records a reviewed edit (a comment fixed, say) as
the new truth, as Flyway's ``repair`` does.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

CHECKSUM_TABLE = "alembic_version_checksums"
# How a checksum came to be recorded.
APPLIED = "applied"  # the run that applied the revision
STAMPED = "stamped"  # `alembic stamp` / adopt: marked applied without running
BACKFILLED = "backfilled"  # applied before checksums were kept; recorded later
ACCEPTED = "accepted"  # an edit reviewed and accepted with `pypi-web-db checksums --accept`

_metadata = sa.MetaData()
checksums = sa.Table(
    CHECKSUM_TABLE,
    _metadata,
    sa.Column("revision", sa.String(32), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("recorded", sa.String(16), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
# The deploy-phase declaration (see the module doc), one whole line.
PHASE_LINE = re.compile(rb'^phase = "[a-z ]*"\n', re.MULTILINE)


def file_checksum(path: str | Path) -> str:
    """SHA-256 of a revision file, line endings normalised (see the module doc)."""
    data = Path(path).read_bytes().removeprefix(b"\xef\xbb\xbf")
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(PHASE_LINE.sub(b"", data, count=1)).hexdigest()


def applied_revisions(revision_map, heads) -> list:
    """Every revision at or below ``heads``, as Script objects, newest first."""
    if not heads:
        return []
    return list(revision_map.iterate_revisions(tuple(heads), "base"))


def recorded_checksums(connection: Connection) -> dict[str, tuple[str, str]]:
    """revision -> (sha256, how it was recorded); empty when nothing was ever recorded."""
    if not sa.inspect(connection).has_table(CHECKSUM_TABLE):
        return {}
    rows = connection.execute(
        sa.select(checksums.c.revision, checksums.c.sha256, checksums.c.recorded)
    )
    return {row.revision: (row.sha256, row.recorded) for row in rows}


def _reconcile(connection: Connection, step, heads) -> None:
    checksums.create(connection, checkfirst=True)
    applied = {rev.revision: rev for rev in applied_revisions(step.revision_map, heads)}
    recorded = recorded_checksums(connection)
    # Revisions of this code that are applied no more (downgraded) lose theirs;
    # any other code's rows are left alone.
    gone = [rev for rev in recorded if rev not in applied and _known(step.revision_map, rev)]
    if gone:
        connection.execute(sa.delete(checksums).where(checksums.c.revision.in_(gone)))
    moved_to = set(step.destination_revision_ids) if step.is_upgrade else set()
    now = datetime.datetime.now(datetime.UTC)
    rows = []
    for revision, script in applied.items():
        if revision in recorded:
            continue  # never overwritten: it is what this database applied
        if step.is_stamp:
            how = STAMPED
        elif revision in moved_to:
            how = APPLIED
        else:
            how = BACKFILLED
        sha = file_checksum(script.path)
        rows.append({"revision": revision, "sha256": sha, "recorded": how, "recorded_at": now})
    if rows:
        connection.execute(sa.insert(checksums), rows)


def _known(revision_map, revision: str) -> bool:
    try:
        return revision_map.get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id; all mean "not ours"
        return False


def on_version_apply(ctx, step, heads, run_args) -> None:
    """env.py's ``on_version_apply`` hook: runs inside each migration's transaction."""
    if ctx.as_sql:  # an offline script carries the schema changes only (see status)
        return
    _reconcile(ctx.connection, step, heads)


@dataclass(frozen=True)
class Modified:
    """A revision file that differs from the one a database applied."""

    recorded: str  # sha256 then
    now: str  # sha256 of the file now
    path: str


@dataclass
class ChecksumReport:
    """How the revision files compare with what one database applied."""

    # revision -> what changed, for files that changed since they were applied.
    modified: dict[str, Modified] = field(default_factory=dict)
    # Applied revisions with no checksum (migrated before checksums were kept).
    not_recorded: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.modified


def verify(connection: Connection, script: ScriptDirectory, heads) -> ChecksumReport:
    """Compare the files of the revisions at or below ``heads`` with what was recorded."""
    recorded = recorded_checksums(connection)
    report = ChecksumReport()
    for rev in reversed(applied_revisions(script.revision_map, heads)):
        report.checked += 1
        if rev.revision not in recorded:
            report.not_recorded.append(rev.revision)
            continue
        now = file_checksum(rev.path)
        if now != recorded[rev.revision][0]:
            report.modified[rev.revision] = Modified(recorded[rev.revision][0], now, rev.path)
    return report


def accept(connection: Connection, script: ScriptDirectory, revision: str) -> str:
    """Record the file of ``revision`` as it is now; returns its checksum."""
    rev = script.get_revision(revision)
    sha = file_checksum(rev.path)
    checksums.create(connection, checkfirst=True)
    connection.execute(sa.delete(checksums).where(checksums.c.revision == rev.revision))
    connection.execute(
        sa.insert(checksums).values(
            revision=rev.revision,
            sha256=sha,
            recorded=ACCEPTED,
            recorded_at=datetime.datetime.now(datetime.UTC),
        )
    )
    return sha


def heads_to_check(status) -> tuple[str, ...]:
    """The revisions whose history ``status`` (guard.SchemaStatus) says was applied here.

    Behind or up to date: the database's own. Ahead (the code rolled back):
    everything up to this code's head, which the newer code applied first.
    Empty, unversioned or unknown: nothing this code can vouch for.
    """
    from .guard import AHEAD, BEHIND, UP_TO_DATE

    if status.state in (UP_TO_DATE, BEHIND):
        return status.database_revisions
    if status.state == AHEAD:
        return (status.code_head,)
    return ()


def warn_if_modified(engine: sa.Engine, script: ScriptDirectory, status, log) -> None:
    """The start-up guard's check: a warning per revision edited since it was applied.

    A warning, not a refusal: the database already ran the revision, and what
    the site needs is a schema it can serve, which the guard checks itself. An
    edited file matters to every database that has yet to run it (it will get
    something else), so `pypi-web-db status`, the deploy gate, fails on it.
    """
    heads = heads_to_check(status)
    if not heads:
        return
    with engine.connect() as connection:
        report = verify(connection, script, heads)
    for revision, change in report.modified.items():
        log.warning(
            "revision %s (%s) was modified after this database applied it "
            "(sha256 %s then, %s now): see `pypi-web-db checksums`",
            revision,
            Path(change.path).name,
            change.recorded[:12],
            change.now[:12],
        )
