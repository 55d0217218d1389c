"""``pypi-web-import``: fill the database with real packages.

    pypi-web-import development.ini --json-dir DIR [--json-dir DIR ...] [--installed]
    pypi-web-import --db-url URL ...

Imports directories of PyPI JSON API documents and/or the distributions
installed in the running Python, all in one transaction (one savepoint per
document), and prints what changed. Exit status: 0 when everything was
imported, 1 when some documents were not (the rest are committed), 2 when the
command refused to start (bad arguments, a database not at the Alembic head).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import Distribution
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy import make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from tqdm import tqdm

from pypi_web.config import ConfigError, read_app_settings
from pypi_web.config import database_url as config_database_url
from pypi_web.migrations import head_revision
from pypi_web.models import get_engine, get_session_factory

from .data import ImportReport
from .installed import InstalledImporter, installed_distributions
from .pypi_json import PypiJsonImporter, json_documents

PROG = "pypi-web-import"


class Refusal(Exception):
    """The command cannot start; the message says why and what to do."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Import PyPI JSON API documents and installed distributions.",
    )
    parser.add_argument(
        "config_uri", nargs="?", help="the app's configuration, e.g. development.ini"
    )
    parser.add_argument("--db-url", help="the database URL (instead of the configuration's)")
    parser.add_argument(
        "--json-dir",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="a directory of PyPI JSON API documents (*.json); may be repeated",
    )
    parser.add_argument(
        "--installed",
        action="store_true",
        help="also import the distributions installed in this Python environment",
    )
    return parser.parse_args(argv)


def database_url(args: argparse.Namespace) -> str:
    if args.db_url:
        return args.db_url
    if not args.config_uri:
        raise Refusal("give the app's configuration file (e.g. development.ini) or --db-url URL")
    try:
        return config_database_url(read_app_settings(args.config_uri), args.config_uri)
    except ConfigError as exc:
        raise Refusal(str(exc)) from exc


def upgrade_hint(args: argparse.Namespace) -> str:
    if args.db_url:
        try:
            # Never echo a password to the terminal (or a CI log).
            shown = make_url(args.db_url).render_as_string(hide_password=True)
        except ArgumentError:
            shown = "URL"
        return f"alembic -x db_url={shown} upgrade head"
    if Path(args.config_uri).name != "development.ini":
        return f"alembic -x ini={args.config_uri} upgrade head"
    return "alembic upgrade head"


def check_sources(dirs: list[Path]) -> list[Path]:
    paths: list[Path] = []
    for directory in dirs:
        if not directory.exists():
            raise Refusal(f"{directory}: no such directory")
        if not directory.is_dir():
            raise Refusal(f"{directory}: not a directory")
        try:
            found = json_documents(directory)
        except OSError as exc:
            raise Refusal(f"{directory}: cannot be listed: {exc.strerror or exc}") from exc
        if not found:
            raise Refusal(f"{directory}: contains no .json documents")
        paths.extend(found)
    return paths


def database_error_reason(exc: BaseException) -> str:
    """The first line of what the database said (the driver's error, not SQLAlchemy's dump)."""
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


def open_database(url: str, hint: str) -> Engine:
    """An engine for ``url``, refusing a database that is not at the Alembic head."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise Refusal(f"{url!r} is not a database URL") from exc
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        # Connecting would create an empty file in place of a mistyped one.
        plain_file = database not in ("", ":memory:") and not database.startswith("file:")
        if plain_file and not Path(database).is_file():
            raise Refusal(f"the database file {database} does not exist: run `{hint}`")
    try:
        engine = get_engine({"sqlalchemy.url": url})
    except (ArgumentError, ImportError) as exc:
        raise Refusal(f"cannot use the database {shown}: {exc}") from exc
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = database_error_reason(exc)
        raise Refusal(f"cannot connect to the database {shown}: {reason}") from exc
    head = head_revision()
    if not current:
        engine.dispose()
        raise Refusal(f"the database {shown} has no schema (no Alembic revision): run `{hint}`")
    if current != {head}:
        engine.dispose()
        raise Refusal(
            f"the database {shown} is at revision {', '.join(sorted(current))}, "
            f"not at the head revision {head}: run `{hint}`"
        )
    return engine


def print_summary(report: ImportReport, seconds: float) -> None:
    sources = []
    if report.documents:
        sources.append(f"{report.documents:,} JSON documents")
    if report.distributions:
        sources.append(f"{report.distributions:,} installed distributions")
    print(f"Read {' and '.join(sources)} in {seconds:.2f} s.")
    for label, created, updated in (
        ("packages", report.packages_created, report.packages_updated),
        ("releases", report.releases_created, report.releases_updated),
        ("files", report.files_created, report.files_updated),
    ):
        print(f"  {label:<9}{created:>7,} created {updated:>7,} updated")
    if not report.changed:
        print("Nothing changed: the database already held all of it.")
    if report.errors:
        print(f"{len(report.errors)} not imported (nothing of them was written):", file=sys.stderr)
        for source, reason in report.errors:
            print(f"  {source}: {reason}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if not args.json_dir and not args.installed:
        raise Refusal("nothing to import: give --json-dir DIR and/or --installed")
    paths = check_sources(args.json_dir)
    url = database_url(args)
    engine = open_database(url, upgrade_hint(args))
    dists = installed_distributions() if args.installed else []
    report = ImportReport()
    started = time.perf_counter()
    try:
        with get_session_factory(engine)() as session:
            with tqdm(
                total=len(paths) + len(dists),
                unit="doc",
                file=sys.stderr,
                disable=not sys.stderr.isatty(),
            ) as bar:

                def advance(source: Path | Distribution) -> None:
                    bar.set_postfix_str(getattr(source, "name", ""), refresh=False)
                    bar.update()

                PypiJsonImporter(session, report).import_paths(paths, advance)
                InstalledImporter(session, report).import_distributions(dists, advance)
            session.commit()
    except SQLAlchemyError as exc:
        # Not one document's fault (those are caught per document): the
        # connection or the commit failed, and the transaction with it.
        reason = database_error_reason(exc)
        print(
            f"{PROG}: error: the database failed, nothing was imported: {reason}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing was imported", file=sys.stderr)
        return 130
    finally:
        engine.dispose()
    print_summary(report, time.perf_counter() - started)
    return 1 if report.errors else 0


def run_command(
    prog: str,
    parse: Callable[[Sequence[str] | None], argparse.Namespace],
    execute: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None,
) -> int:
    """A database command's ``main``: exit status 2 on bad arguments or a Refusal.

    Shared with bench/synthetic.py, which opens its database as this one does.
    """
    try:
        args = parse(argv)
    except SystemExit as exc:  # argparse has printed the usage and the problem
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return execute(args)
    except Refusal as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(PROG, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
