"""``pypi-web-db``: migrate, adopt, status and lint.

    pypi-web-db upgrade production.ini [REV]    migrate (and downgrade, current, history:
                                                pypi_web.migrations.commands)
    pypi-web-db adopt production.ini            stamp a database made without Alembic
    pypi-web-db status dev=development.ini staging=staging.ini prod=postgresql://...
    pypi-web-db status --json ...               the same, as JSON
    pypi-web-db lint [alembic/versions ...]     dangerous operations in revisions

Each environment is an app ini file (its ``sqlalchemy.url`` is used) or a
database URL, optionally named ``NAME=...``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pypi_web.models.search import SEARCH_SCHEMA_NAMES

from . import (
    SCRIPT_LOCATION,
    MigrationsNotFoundError,
    alembic_config,
    commands,
    migration_engine,
    script_directory,
)
from .checksums import ChecksumReport, heads_to_check, verify
from .guard import (
    AHEAD,
    BEHIND,
    EMPTY,
    POST_DEPLOY_PENDING,
    UNKNOWN,
    UNVERSIONED,
    UP_TO_DATE,
    schema_status,
    state_text,
)
from .lineage import BOOKKEEPING_TABLES, record_revision_map
from .lint import lint_paths
from .phases import POST_DEPLOY_COMMAND, servable_heads
from .schema import diff, revision_schemas, snapshot
from .targets import TargetError, database_identity, resolve
from .upstream_status import print_upstream_table, upstream_report

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A bad argument; the message names it and says why."""


def database_url(target: str) -> str:
    """``target`` is a database URL or an app ini file holding ``sqlalchemy.url``."""
    return resolve(target).url


def _safe(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


# ---------------------------------------------------------------- adopt


def adopt(target: str, out=None, err=None, script_location=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    resolved = resolve(target)
    url = resolved.url
    print(f"Adopting {resolved.described}", file=out)
    status, live = _status_and_live_schema(url, script_location)
    if status.state == EMPTY:
        print(
            f"{_safe(url)}: the database is empty; nothing to adopt. "
            "Create the schema with `alembic upgrade head`.",
            file=err,
        )
        return EXIT_FAILED
    if status.state not in (UNVERSIONED, UNKNOWN):
        print(
            f"{_safe(url)}: already managed by Alembic at revision "
            f"{status.database_revision} ({status.state.replace('_', ' ')}); nothing to adopt.",
            file=out,
        )
        return EXIT_OK

    print(f"{_safe(url)}: comparing the live schema with each revision...", file=out)
    order, schemas, differences = _differences_by_revision(url, live, script_location)
    matches = [rev for rev in order if not differences[rev]]
    if not matches:
        _report_no_match(url, order, schemas, differences, err)
        return EXIT_FAILED

    # Revisions that change only data leave the schema as it was: of a run of
    # identical schemas, stamp the oldest, so `alembic upgrade head` still
    # applies the data migrations after it (they are idempotent).
    newest = order.index(matches[-1])
    oldest = newest
    while oldest > 0 and not differences[order[oldest - 1]]:
        oldest -= 1
    chosen = order[oldest]
    _stamp(url, chosen, script_location)
    _report_stamped(url, chosen, order[oldest : newest + 1], script_location, out)
    return EXIT_OK


def _status_and_live_schema(url: str, script_location):
    """The database's migration status and a snapshot of its schema, read in one connection."""
    engine = migration_engine(url)
    try:
        with engine.connect() as connection:
            status = schema_status(connection, script_directory(script_location))
            live = snapshot(connection)
            connection.rollback()
    finally:
        engine.dispose()
    return status, live


def _differences_by_revision(url: str, live: dict, script_location):
    """(revisions oldest first, the schema of each, how the live schema differs from each)."""
    differences: dict[str, list[str]] = {}
    schemas: dict[str, dict] = {}
    order: list[str] = []
    for revision, expected in revision_schemas(url, script_location):
        order.append(revision)
        schemas[revision] = expected
        differences[revision] = diff(live, expected)
    return order, schemas, differences


def _report_no_match(
    url: str,
    order: list[str],
    schemas: dict[str, dict],
    differences: dict[str, list[str]],
    err,
) -> None:
    """Say that adopt refuses to stamp, and how the schema differs from the closest revision."""
    # The newest of the closest; of a run of identical schemas, its first revision.
    index = order.index(min(reversed(order), key=lambda rev: len(differences[rev])))
    while index > 0 and schemas[order[index - 1]] == schemas[order[index]]:
        index -= 1
    closest = order[index]
    print(
        f"{_safe(url)}: the schema matches no revision; refusing to stamp it.\n"
        f"Closest: {closest}, with {len(differences[closest])} difference(s):",
        file=err,
    )
    for line in differences[closest]:
        print(f"  - {line}", file=err)
    others = ", ".join(f"{rev}: {len(differences[rev])}" for rev in order if rev != closest)
    if others:
        print(f"Differences from the other revisions: {others}", file=err)
    print(
        "Bring the schema in line with a revision by hand (or restore it from a backup), "
        "then run adopt again.",
        file=err,
    )


def _stamp(url: str, revision: str, script_location) -> None:
    """Record the revision as the database's, with the revision map, in one transaction."""
    engine = migration_engine(url)
    try:
        with engine.connect() as connection:
            cfg = alembic_config(connection, script_location=script_location)
            command.stamp(cfg, revision, purge=True)
            record_revision_map(connection, script_directory(script_location).revision_map)
            connection.commit()
    finally:
        engine.dispose()


def _report_stamped(url: str, chosen: str, same: list[str], script_location, out) -> None:
    """Say which revision was stamped, which later ones share its schema, and what comes next."""
    print(f"{_safe(url)}: the schema matches revision {chosen}; stamped it.", file=out)
    if len(same) > 1:
        print(
            f"  (revisions {', '.join(same)} have the same schema: the later ones only "
            "change data, so they are left for `alembic upgrade head` to apply)",
            file=out,
        )
    head = script_directory(script_location).get_current_head()
    if chosen != head:
        print("Now bring it up to date: alembic upgrade head", file=out)


# ---------------------------------------------------------------- status


@dataclass
class EnvironmentStatus:
    name: str
    url: str
    state: str = "error"
    database_revision: str | None = None
    code_head: str | None = None
    pending: list[str] = field(default_factory=list)
    # Of pending: what the post-deploy step applies (the pre-deploy one the rest).
    pending_contract: list[str] = field(default_factory=list)
    # Code heads of this history that can serve the database (phases.servable_heads).
    serves: list[str] = field(default_factory=list)
    # None: not checked (only a database at head is compared with the models).
    drift: list[str] | None = None
    error: str | None = None
    # Other environments of the same command that name this very database.
    same_database_as: list[str] = field(default_factory=list)
    identity: tuple | None = field(default=None, repr=False)
    # The applied revisions' files against their recorded checksums (checksums.py).
    checksums: ChecksumReport | None = None
    # The upstream cache's health and size (pypi_web.upstream.services.cache_report);
    # None when the database has no upstream tables yet.
    upstream: dict | None = None

    @property
    def ok(self) -> bool:
        return (
            # After the pre-deploy step the new code serves: a deploy may go ahead.
            self.state in (UP_TO_DATE, AHEAD, POST_DEPLOY_PENDING)
            and not self.drift
            and self.error is None
            and not self.same_database_as
            and (self.checksums is None or self.checksums.ok)
        )

    @property
    def pending_expand(self) -> list[str]:
        return [rev for rev in self.pending if rev not in self.pending_contract]

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "url": self.url,
            "state": self.state,
            "database_revision": self.database_revision,
            "code_head": self.code_head,
            "pending": self.pending,
            "pending_expand": self.pending_expand,
            "pending_contract": self.pending_contract,
            "serves_code_heads": self.serves,
            "drifted": bool(self.drift) if self.drift is not None else None,
            "drift": self.drift,
            "error": self.error,
            "same_database_as": self.same_database_as,
            "modified_revisions": sorted(self.checksums.modified) if self.checksums else None,
            "checksums_not_recorded": self.checksums.not_recorded if self.checksums else None,
            "upstream": self.upstream,
            "ok": self.ok,
        }


def _render_diff(entry) -> str:
    """One autogenerate difference as a sentence."""
    if isinstance(entry, list):  # column modifications come as a list of tuples
        return "; ".join(_render_diff(e) for e in entry)
    kind = entry[0]
    if kind in ("add_table", "remove_table"):
        verb = "missing from" if kind == "add_table" else "not in the models but in"
        return f"table {entry[1].name}: {verb} the database"
    if kind in ("add_column", "remove_column"):
        verb = "missing from the database" if kind == "add_column" else "not in the models"
        return f"column {entry[2]}.{entry[3].name}: {verb}"
    if kind in ("add_index", "remove_index"):
        verb = "missing from the database" if kind == "add_index" else "not in the models"
        return f"index {entry[1].name} on {entry[1].table.name}: {verb}"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        verb = "missing from the database" if kind.startswith("add") else "not in the models"
        return f"constraint {entry[1].name}: {verb}"
    if kind.startswith("modify_"):
        _, _schema, table, column, _existing, old, new = entry
        what = kind.removeprefix("modify_")
        return f"column {table}.{column}: {what} is {old!r} in the database, {new!r} in the models"
    return repr(entry)


def _include_name(name, type_, parent_names):
    # The full-text search objects are not models (pypi_web/models/search.py).
    if name in SEARCH_SCHEMA_NAMES:
        return False
    return not (type_ == "table" and name in BOOKKEEPING_TABLES)


def drift(connection) -> list[str]:
    """What `alembic revision --autogenerate` would write for this database."""
    from pypi_web.models import Base

    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_name": _include_name,
            "target_metadata": Base.metadata,
        },
    )
    return [_render_diff(entry) for entry in compare_metadata(context, Base.metadata)]


def environment_status(name: str, target: str, script_location=None) -> EnvironmentStatus:
    result = EnvironmentStatus(name=name, url=target)
    try:
        url = database_url(target)
        result.url = _safe(url)
        result.identity = database_identity(url)
        connect_args = {"connect_timeout": 10} if url.startswith("postgresql") else {}
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=connect_args)
        try:
            with engine.connect() as connection:
                status = schema_status(connection, script_directory(script_location))
                result.state = status.stage
                result.database_revision = status.database_revision
                result.code_head = status.code_head
                result.pending = status.pending
                result.pending_contract = status.pending_contract
                if status.state in (UP_TO_DATE, BEHIND):
                    result.serves = servable_heads(
                        script_directory(script_location), status.database_revision
                    )
                if status.state == UP_TO_DATE:
                    result.drift = drift(connection)
                heads = heads_to_check(status)
                if heads:
                    result.checksums = verify(connection, script_directory(script_location), heads)
                result.upstream = upstream_report(connection, target)
        finally:
            engine.dispose()
    except (UsageError, TargetError) as exc:
        result.error = str(exc)
    except sa.exc.SQLAlchemyError as exc:
        first = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()
        result.error = f"cannot reach the database: {first[0] if first else exc!r}"
    return result


def _environments(specs: list[str]) -> list[tuple[str, str]]:
    result = []
    for index, spec in enumerate(specs, 1):
        name, sep, target = spec.partition("=")
        # "name=target", unless the "=" belongs to the target (a URL's query string).
        if sep and "://" not in name and "/" not in name and not name.endswith(".ini"):
            result.append((name, target))
        else:
            label = Path(spec).stem if "://" not in spec else f"env{index}"
            result.append((label, spec))
    return result


def _state_text(env: EnvironmentStatus) -> str:
    return "ERROR" if env.state == "error" else state_text(env.state)


def _drift_text(env: EnvironmentStatus) -> str:
    if env.drift is None:
        return "-" if env.state == "error" else "not checked"
    return f"DRIFTED ({len(env.drift)})" if env.drift else "none"


def _serves_text(env: EnvironmentStatus) -> str:
    if not env.serves:
        return "-"
    return env.serves[0] if len(env.serves) == 1 else f"{env.serves[0]}..{env.serves[-1]}"


def _checksums_text(env: EnvironmentStatus) -> str:
    report = env.checksums
    if report is None:
        return "-"
    if report.modified:
        return f"MODIFIED ({len(report.modified)})"
    if report.not_recorded:
        return f"not recorded ({len(report.not_recorded)})"
    return "ok"


def _checksum_notes(env: EnvironmentStatus) -> list[str]:
    report = env.checksums
    if report is None:
        return []
    notes = [
        f"MODIFIED {rev}: {Path(change.path).name} differs from the file this database "
        f"applied (sha256 {change.recorded[:12]} then, {change.now[:12]} now)"
        for rev, change in report.modified.items()
    ]
    if report.not_recorded:
        notes.append(
            f"checksums not recorded for {len(report.not_recorded)} applied revision(s) "
            "(migrated before they were kept): the next migration run records them"
        )
    return notes


def print_status_table(envs: list[EnvironmentStatus], out) -> None:
    headers = (
        "ENVIRONMENT", "REVISION", "HEAD", "STATE", "EXPAND", "CONTRACT", "SERVES", "DRIFT",
        "CHECKSUMS",
    )  # fmt: skip
    rows = [
        (
            env.name,
            env.database_revision or "-",
            env.code_head or "-",
            _state_text(env),
            str(len(env.pending_expand)) if env.pending_expand else "-",
            str(len(env.pending_contract)) if env.pending_contract else "-",
            _serves_text(env),
            _drift_text(env),
            _checksums_text(env),
        )
        for env in envs
    ]
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    for row in (headers, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )
    script = None
    for env in envs:
        notes: list[str] = []
        if env.error:
            notes.append(f"error: {env.error}")
        for other in env.same_database_as:
            notes.append(f"same database as {other}: two environments must not share one")
        if env.pending:
            script = script or script_directory()
            for rev in env.pending:
                doc = (script.get_revision(rev).doc or "").splitlines()
                step = "post-deploy" if rev in env.pending_contract else "pre-deploy"
                notes.append(f"pending {rev} ({step}): {doc[0] if doc else ''}".rstrip(": "))
            if env.pending_contract:
                notes.append(
                    f"post-deploy step, once no older release serves it: {POST_DEPLOY_COMMAND}"
                )
        if len(env.serves) > 1:
            notes.append(f"serves the releases whose head is one of: {', '.join(env.serves)}")
        if env.state == UNVERSIONED:
            notes.append("no alembic_version table: adopt it with `pypi-web-db adopt`")
        if env.state == UNKNOWN:
            notes.append("revision unknown to this code: check it with `pypi-web-db adopt`")
        if env.state == AHEAD:
            notes.append("ahead of this code: the code was rolled back, or deploy newer code")
        for line in env.drift or []:
            notes.append(f"drift: {line}")
        notes.extend(_checksum_notes(env))
        if notes:
            print(f"\n{env.name} ({env.url}):", file=out)
            for note in notes:
                print(f"  {note}", file=out)


def mark_shared_databases(envs: list[EnvironmentStatus]) -> None:
    """Two environments naming one database: a URL that came from the wrong place."""
    for env in envs:
        env.same_database_as = [
            other.name
            for other in envs
            if other is not env and env.identity is not None and other.identity == env.identity
        ]


def status(specs: list[str], as_json: bool, out=None, script_location=None) -> int:
    out = out or sys.stdout
    envs = [environment_status(n, t, script_location) for n, t in _environments(specs)]
    mark_shared_databases(envs)
    if as_json:
        print(json.dumps({"environments": [e.as_dict() for e in envs]}, indent=2), file=out)
    else:
        print_status_table(envs, out)
        print_upstream_table(envs, out)
    return EXIT_OK if all(env.ok for env in envs) else EXIT_FAILED


# ---------------------------------------------------------------- lint


def lint(paths: list[str], out=None) -> int:
    out = out or sys.stdout
    targets = [Path(p) for p in paths] or [SCRIPT_LOCATION / "versions"]
    for path in targets:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
    findings = lint_paths(targets)
    for finding in findings:
        print(finding, file=out)
    if findings:
        print(
            f"{len(findings)} finding(s). If an operation is deliberate, say so on the line "
            "before it:\n  # migration-lint: allow <rule> -- <why it is safe>",
            file=out,
        )
        return EXIT_FAILED
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pypi-web-db", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_adopt = sub.add_parser("adopt", help="stamp a database made without Alembic")
    p_adopt.add_argument("config_uri", help="the app's ini file (or a database URL)")
    p_status = sub.add_parser("status", help="revision, pending revisions and drift per database")
    p_status.add_argument("environments", nargs="+", metavar="ENV", help="[NAME=]INI_OR_URL")
    p_status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p_lint = sub.add_parser("lint", help="flag dangerous operations in revision files")
    p_lint.add_argument("paths", nargs="*", help="revision files or directories")
    # upgrade, downgrade, current, history: each module adds its own, with its handler.
    commands.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "handler"):
        return commands.run(args)
    try:
        if args.command == "adopt":
            return adopt(args.config_uri)
        if args.command == "status":
            return status(args.environments, args.json)
        return lint(args.paths)
    except (UsageError, TargetError, MigrationsNotFoundError) as exc:
        print(f"pypi-web-db {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
