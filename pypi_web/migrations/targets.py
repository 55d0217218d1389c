"""Which database a command is about to change, and whether two environments share one.

Every command that migrates names the database (without its password) and
where its URL came from before it changes anything, so a URL that came from
the wrong place is seen before it does harm.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import sqlalchemy as sa

from pypi_web.config import ConfigError, read_app_config
from pypi_web.config import database_url as config_database_url

DEFAULT_PORTS = {"postgresql": 5432}
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


class TargetError(Exception):
    """A target that names no usable database; the message names it and says why."""


@dataclass(frozen=True)
class Target:
    """A database URL and where it came from."""

    url: str
    origin: str

    @property
    def shown(self) -> str:
        return shown_url(self.url)

    @property
    def described(self) -> str:
        return described(self.url, self.origin)


def shown_url(url: str | sa.URL) -> str:
    """``url`` as it may be printed: without its password."""
    return sa.make_url(url).render_as_string(hide_password=True)


def resolve(target: str) -> Target:
    """``target`` is a database URL or an app ini file naming one (``sqlalchemy.url``)."""
    if "://" in target:
        try:
            sa.make_url(target)
        except sa.exc.ArgumentError as exc:
            raise TargetError(f"{target}: not a database URL ({exc})") from exc
        return Target(target, "given on the command line")
    try:
        app = read_app_config(target)
        return Target(config_database_url(app.settings, target), app.origin("sqlalchemy.url"))
    except ConfigError as exc:
        raise TargetError(str(exc)) from exc


def database_identity(url: str | sa.URL) -> tuple | None:
    """What makes two URLs the same database (None for one nothing else can share).

    The driver, the user and the password do not matter; for SQLite the file
    does, however its path is spelled; for a server, its host (any spelling
    of this machine counts as one), port and database name.
    """
    url = sa.make_url(url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        return ("sqlite", os.path.realpath(database))
    host = (url.host or "").lower()
    host = "localhost" if host in LOCAL_HOSTS else host
    return (backend, host, url.port or DEFAULT_PORTS.get(backend), url.database)


def described(url: str | sa.URL, origin: str) -> str:
    """``<url without password> (<where it came from>)``, as change notices print it."""
    return f"{shown_url(url)} ({origin})"


def announce_migration(url: str | sa.URL, origin: str, context) -> None:
    """Before env.py changes a database it found in the configuration: which one.

    ``context`` is env.py's ``alembic.context``. Upgrade, downgrade and stamp
    have a destination revision; commands that only read (current, check,
    autogenerate) have none and say nothing.
    """
    try:
        revision = context.get_revision_argument()
    except KeyError:
        return
    if isinstance(revision, tuple):
        revision = " ".join(revision)
    where = described(url, origin)
    print(f"Migrating {where} to {revision or 'base'}", file=sys.stderr, flush=True)
