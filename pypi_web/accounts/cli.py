"""``pypi-web-user``: create users and API tokens, disable accounts, without a browser.

    pypi-web-user create CONFIG_URI USERNAME [--email E] [--password-stdin | --no-password]
                         [--token [--token-project NAME] [--token-description D]]
    pypi-web-user token CONFIG_URI USERNAME [--project NAME] [--description D]
    pypi-web-user disable CONFIG_URI USERNAME

For setting up a fresh index from a deployment script (or a test): the new
token's secret is printed on standard output, alone on its line, and never
stored. The password is read from standard input (one line), never from
the command line, where other users of the machine could see it.
Exit status: 0 done, 1 refused (the reason is printed), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from pypi_web.config import ConfigError, read_app_settings
from pypi_web.config import database_url as config_database_url
from pypi_web.models import Package, get_engine
from pypi_web.packaging.names import normalize

from . import services

PROG = "pypi-web-user"
MIN_PASSWORD_LENGTH = 8


class Refusal(Exception):
    """The command cannot do what was asked; the message says why."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Create users and API tokens.")
    commands = parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", help="create a user (and optionally a token)")
    create.add_argument("config_uri", help="the app's configuration, e.g. production.ini")
    create.add_argument("username")
    create.add_argument("--email")
    password = create.add_mutually_exclusive_group()
    password.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else it is asked for on a terminal)",
    )
    password.add_argument(
        "--no-password",
        action="store_true",
        help="no password: the user can upload with tokens only",
    )
    create.add_argument("--token", action="store_true", help="also create an API token")
    create.add_argument("--token-project", metavar="NAME", help="limit the token to one project")
    create.add_argument("--token-description", metavar="D", default="created by pypi-web-user")

    token = commands.add_parser("token", help="create another API token for a user")
    token.add_argument("config_uri")
    token.add_argument("username")
    token.add_argument("--project", metavar="NAME", help="limit the token to one project")
    token.add_argument("--description", metavar="D", default="created by pypi-web-user")

    status = commands.add_parser(
        "project-status", help="an admin's PEP 792 status for a project (quarantined too)"
    )
    status.add_argument("config_uri")
    status.add_argument("project")
    status.add_argument("status", choices=("active", "archived", "deprecated", "quarantined"))
    status.add_argument("--reason", default=None)

    disable = commands.add_parser(
        "disable", help="disable a user: no login or upload, every session ends"
    )
    disable.add_argument("config_uri")
    disable.add_argument("username")
    return parser


def open_session(config_uri: str) -> Session:
    try:
        settings = read_app_settings(config_uri)
        settings["sqlalchemy.url"] = config_database_url(settings, config_uri)
    except ConfigError as exc:
        raise Refusal(str(exc)) from exc
    engine = get_engine(settings)
    from pypi_web.migrations.guard import UP_TO_DATE, schema_status

    try:
        with engine.connect() as connection:
            status = schema_status(connection)
    except SQLAlchemyError as exc:
        first_line = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise Refusal(f"{config_uri}: cannot use the database: {first_line}") from exc
    if status.state != UP_TO_DATE:
        raise Refusal(
            f"{config_uri}: the database is not at the current schema ({status.state}): "
            f"run `pypi-web-db upgrade {config_uri}` (or `alembic upgrade head`) first"
        )
    return Session(engine)


def read_password(args, stdin) -> str | None:
    if args.no_password:
        return None
    if args.password_stdin:
        password = stdin.readline().rstrip("\r\n")
    elif stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise Refusal("the two passwords differ")
    else:
        raise Refusal("give --password-stdin (and the password on standard input) or --no-password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Refusal(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _project(dbsession: Session, name: str | None) -> Package | None:
    if name is None:
        return None
    package = dbsession.scalars(
        select(Package).where(Package.normalized_name == normalize(name))
    ).one_or_none()
    if package is None:
        raise Refusal(f"there is no project named {name!r}")
    return package


def make_token(dbsession: Session, user, project_name: str | None, description: str, out) -> None:
    package = _project(dbsession, project_name)
    if package is not None and not any(role.package_id == package.id for role in user.roles):
        raise Refusal(f"{user.username!r} has no role on {package.name!r}")
    _, secret = services.create_api_token(dbsession, user, description, package=package)
    print(secret, file=out)


def set_project_status(dbsession: Session, args, out) -> None:
    from pypi_web.manage import services as manage

    package = _project(dbsession, args.project)
    try:
        manage.set_status(dbsession, package, args.status, args.reason, None, admin=True)
    except manage.ManageError as exc:
        raise Refusal(str(exc)) from exc
    dbsession.commit()
    print(f"{package.name} is now {package.status}", file=out)


def run(args, stdin, out) -> None:
    dbsession = open_session(args.config_uri)
    try:
        if args.command == "create":
            password = read_password(args, stdin)
            try:
                user = services.create_user(dbsession, args.username, password, email=args.email)
            except services.AccountError as exc:
                raise Refusal(str(exc)) from exc
            if args.token:
                make_token(dbsession, user, args.token_project, args.token_description, out)
            dbsession.commit()
            print(f"created user {user.username}", file=sys.stderr)
        elif args.command == "project-status":
            set_project_status(dbsession, args, out)
        else:
            user = services.user_by_username(dbsession, args.username)
            if user is None:
                raise Refusal(f"there is no user named {args.username!r}")
            if args.command == "disable":
                services.disable_user(dbsession, user)
                print(f"disabled user {user.username}", file=sys.stderr)
            else:
                make_token(dbsession, user, args.project, args.description, out)
            dbsession.commit()
    finally:
        dbsession.close()
        bind = dbsession.get_bind()
        bind.dispose()


def main(argv: Sequence[str] | None = None, stdin=None, out=None) -> int:
    stdin = stdin if stdin is not None else sys.stdin
    out = out if out is not None else sys.stdout
    args = build_parser().parse_args(argv)
    try:
        run(args, stdin, out)
    except Refusal as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
