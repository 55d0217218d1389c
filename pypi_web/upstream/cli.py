"""``pypi-web-upstream``: operators' commands for the upstream cache.

    pypi-web-upstream prefetch CONFIG REQUIREMENTS_FILE

fetches the listed projects' pages and files into the cache (pypi_web.upstream.prefetch),
so that this index serves them with the upstreams away. Exit status 1 when any failed
(each is listed), 2 for bad arguments (a bad requirement names its file and line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from pypi_web.config import ConfigError, database_url, read_app_config
from pypi_web.files import FileStorage
from pypi_web.models import get_engine, get_session_factory

from . import SETTING, Upstreams
from .prefetch import Fetched, RequirementsError, prefetch, read_requirements

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad argument; the message says which and why."""


def _setup(config: str):
    try:
        settings = read_app_config(config).settings
        url = database_url(settings, config)
        storage = FileStorage.from_settings(settings)
    except (ConfigError, ValueError) as error:
        raise UsageError(str(error)) from None
    upstreams = Upstreams.from_settings(settings)
    if not upstreams.enabled:
        raise UsageError(f"{config}: no upstream index configured ({SETTING})")
    return url, storage, upstreams


def _line(index: int, total: int, result: Fetched) -> str:
    state = "FAILED" if result.failures else "ok"
    return f"[{index}/{total}] {result.requirement}: {len(result.files)} file(s) ready, {state}"


def run_prefetch(config: str, requirements_file: str, out, err) -> int:
    url, storage, upstreams = _setup(config)
    try:
        requirements = read_requirements(Path(requirements_file))
    except RequirementsError as error:
        raise UsageError(str(error)) from None
    engine = get_engine({"sqlalchemy.url": url})
    failed: list[Fetched] = []
    terminal = err.isatty()
    try:
        with (
            get_session_factory(engine)() as session,
            tqdm(total=len(requirements), unit="project", file=err, disable=not terminal) as bar,
        ):
            for index, requirement in enumerate(requirements, 1):
                bar.set_postfix_str(requirement.name, refresh=False)
                result = prefetch(session, storage, upstreams, requirement)
                failed += [result] if result.failures else []
                line = _line(index, len(requirements), result)
                bar.write(line, file=err) if terminal else print(line, file=out, flush=True)
                bar.update()
    except SQLAlchemyError as error:
        print(f"pypi-web-upstream prefetch: the database failed: {error}", file=err)
        return EXIT_FAILED
    finally:
        engine.dispose()
    for result in failed:
        print(f"failed: {result.requirement}", file=err)
        for failure in result.failures:
            print(f"  {failure}", file=err)
    return EXIT_FAILED if failed else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pypi-web-upstream", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_prefetch = sub.add_parser("prefetch", help="fetch listed projects for offline use")
    p_prefetch.add_argument("config", help="the app's ini file")
    p_prefetch.add_argument("requirements", help="a requirements file: one requirement a line")
    return parser


def main(argv: list[str] | None = None, out=None, err=None) -> int:
    args = build_parser().parse_args(argv)
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return run_prefetch(args.config, args.requirements, out, err)
    except UsageError as error:
        print(f"pypi-web-upstream {args.command}: {error}", file=err)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
