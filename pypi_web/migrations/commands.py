"""``pypi-web-db upgrade|downgrade|current|history``: Alembic without a source tree.

An installed package (a wheel in a container image, say) has no alembic.ini
and no checkout to run ``alembic`` from; these commands build the Alembic
configuration in code (``pypi_web.migrations.alembic_config``) from the
package's own migrations and the app's ini file, as Warehouse's ``warehouse
db`` commands do, and run the same env.py as ``alembic`` does: the same
timeouts, advisory lock and bookkeeping, and the same line naming the
database before it changes::

    pypi-web-db upgrade production.ini            # pre-deploy: to head, contract held back
    pypi-web-db contract production.ini           # post-deploy: everything (phases.py)
    pypi-web-db upgrade production.ini 756594532db6
    pypi-web-db downgrade production.ini -1
    pypi-web-db current production.ini
    pypi-web-db history [production.ini]          # with an ini: marks its revision
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import traceback

import sqlalchemy as sa
from alembic import command
from alembic.util import CommandError

from . import MigrationsNotFoundError, alembic_config, script_directory
from .targets import TargetError, resolve

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CommandFailed(Exception):
    """The command ran and failed; the message says why (exit status 1)."""


class BadArgument(Exception):
    """Something the user typed cannot be used; the message says why (exit status 2)."""


def _config_for(target: str, out):
    """An Alembic config whose env.py finds the database as ``alembic`` would."""
    resolve(target)  # a missing or unreadable file is named before Alembic starts
    url = target if "://" in target else None
    cfg = alembic_config(db_url=url, app_ini=None if url else target)
    cfg.stdout = out
    return cfg


@contextlib.contextmanager
def _alembic_progress():
    """Alembic's "Running upgrade a -> b" lines on stderr while the command runs."""
    logger = logging.getLogger("alembic")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _run(what, *args, **kwargs) -> None:
    """Run an Alembic command, turning what it raises into a sentence."""
    try:
        what(*args, **kwargs)
    except CommandError as exc:
        raise BadArgument(str(exc)) from exc
    except SystemExit as exc:  # env.py's own refusals ("alembic: FILE: reason")
        raise CommandFailed(str(exc.code).removeprefix("alembic: ")) from exc
    except sa.exc.SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise CommandFailed(f"the database refused: {first[0] if first else exc!r}") from exc
    except Exception as exc:  # a revision that failed: its traceback, then the outcome
        traceback.print_exc()
        raise CommandFailed(
            f"{type(exc).__name__}: {exc} (the revision that failed was rolled back; "
            "the ones before it are applied)"
        ) from exc


@contextlib.contextmanager
def connected(config_uri: str, script_location=None):
    """(target, connection, schema status) of the database ``config_uri`` names."""
    from .guard import schema_status

    target = resolve(config_uri)
    engine = sa.create_engine(target.url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            yield target, connection, schema_status(connection, script_directory(script_location))
    except sa.exc.SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise CommandFailed(f"the database refused: {first[0] if first else exc!r}") from exc
    finally:
        engine.dispose()


def _now_at(config_uri: str, out) -> None:
    from .guard import state_text

    with connected(config_uri) as (_, _, status):
        state = state_text(status.stage)
    print(f"Now at {status.database_revision or 'base'} ({state}).", file=out)


def upgrade(args, out) -> int:
    with _alembic_progress():
        _run(command.upgrade, _config_for(args.config_uri, out), args.revision)
    _now_at(args.config_uri, out)
    return EXIT_OK


def contract(args, out) -> int:
    """The post-deploy step: every pending revision, contract ones included (phases.py)."""
    cfg = _config_for(args.config_uri, out)
    cfg.attributes["contract"] = True
    with _alembic_progress():
        _run(command.upgrade, cfg, "head")
    _now_at(args.config_uri, out)
    return EXIT_OK


def downgrade(args, out) -> int:
    with _alembic_progress():
        _run(command.downgrade, _config_for(args.config_uri, out), args.revision)
    _now_at(args.config_uri, out)
    return EXIT_OK


def current(args, out) -> int:
    target = resolve(args.config_uri)
    print(f"{target.described}:", file=out)
    _run(command.current, _config_for(args.config_uri, out), verbose=args.verbose)
    return EXIT_OK


def history(args, out) -> int:
    if args.config_uri:
        cfg = _config_for(args.config_uri, out)
    else:
        cfg = alembic_config()
        cfg.stdout = out
    _run(command.history, cfg, verbose=args.verbose, indicate_current=bool(args.config_uri))
    return EXIT_OK


def checksums(args, out) -> int:
    from . import checksums as sums

    script = script_directory()
    with connected(args.config_uri) as (target, connection, status):
        heads = sums.heads_to_check(status)
        if not heads:
            raise CommandFailed(f"the database is {status.state}: no revision of this code applied")
        applied = sums.applied_revisions(script.revision_map, heads)
        for revision in args.accept:
            if revision not in {rev.revision for rev in applied}:
                raise BadArgument(f"{revision}: not a revision applied to this database")
            print(
                f"accepted {revision}: sha256 {sums.accept(connection, script, revision)}", file=out
            )
        connection.commit()
        report = sums.verify(connection, script, heads)
        recorded = sums.recorded_checksums(connection)
    print(f"{target.described}:", file=out)
    for rev in reversed(applied):
        sha, how = recorded.get(rev.revision, ("-", "-"))
        if rev.revision in report.modified:
            state = f"MODIFIED (the file is {report.modified[rev.revision].now[:12]} now)"
        else:
            state = "not recorded" if rev.revision in report.not_recorded else "ok"
        print(f"  {rev.revision}  {how:<10}  {sha[:12]:<12}  {state}", file=out)
    return EXIT_OK if report.ok else EXIT_FAILED


def add_parsers(sub) -> None:
    """The subcommands, each with its handler (see ``pypi_web.migrations.cli``)."""
    config_help = "the app's ini file (its sqlalchemy.url), or a database URL"
    p = sub.add_parser(
        "upgrade",
        help="pre-deploy: migrate a database up (to head unless told), "
        "holding back contract revisions",
    )
    p.add_argument("config_uri", help=config_help)
    p.add_argument("revision", nargs="?", default="head", help="where to stop (default: head)")
    p.set_defaults(handler=upgrade)
    p = sub.add_parser(
        "contract",
        help="post-deploy: apply every pending revision, contract ones too "
        "(once every server runs the new code)",
    )
    p.add_argument("config_uri", help=config_help)
    p.set_defaults(handler=contract)
    p = sub.add_parser("downgrade", help="migrate a database down to a revision")
    p.add_argument("config_uri", help=config_help)
    p.add_argument("revision", help="a revision, -N, or base")
    p.set_defaults(handler=downgrade)
    p = sub.add_parser("current", help="the revision a database is at")
    p.add_argument("config_uri", help=config_help)
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(handler=current)
    p = sub.add_parser("history", help="the revisions the code knows, newest first")
    p.add_argument("config_uri", nargs="?", help="mark the revision this database is at")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(handler=history)
    p = sub.add_parser("checksums", help="applied revision files against their recorded checksums")
    p.add_argument("config_uri", help=config_help)
    p.add_argument(
        "--accept",
        action="append",
        default=[],
        metavar="REVISION",
        help="record this revision's file as it is now (after reviewing the edit); repeatable",
    )
    p.set_defaults(handler=checksums)
    from . import plan, rehearse

    plan.add_parser(sub, config_help)
    rehearse.add_parser(sub, config_help)


def run(args: argparse.Namespace, out=None, err=None) -> int:
    """Run a subcommand added by ``add_parsers``; errors name the command and the reason."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return args.handler(args, out)
    except (BadArgument, TargetError, MigrationsNotFoundError) as exc:
        print(f"pypi-web-db {args.command}: {exc}", file=err)
        return EXIT_USAGE
    except CommandFailed as exc:
        print(f"pypi-web-db {args.command}: {exc}", file=err)
        return EXIT_FAILED
