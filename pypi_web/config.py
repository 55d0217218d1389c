"""Reading the app's settings: the ini file, then the environment.

Deployments keep secrets and per-environment values out of the ini file:
production.ini leaves ``sqlalchemy.url`` and ``files.storage_dir`` out, and
the environment variables below fill them in. A value the file states is
never replaced: development.ini names its own SQLite file, so a shell that
exported production's URL still migrates and serves development's database
(a one-line notice says the variable was ignored). The site, Alembic's
env.py and every console command read settings here, so they can never
disagree about which database they talk to.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Environment variable -> the setting it fills in when the ini file leaves it out.
ENVIRONMENT_VALUES = {
    "PYPI_WEB_DATABASE_URL": "sqlalchemy.url",
    "PYPI_WEB_FILES_DIR": "files.storage_dir",
    "PYPI_WEB_UPSTREAMS": "pypi_web.upstreams",
    "PYPI_WEB_PUBLIC_URL": "pypi_web.public_url",
    "PYPI_WEB_ALLOWED_HOSTS": "pypi_web.allowed_hosts",
}


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the file and the reason."""


def _fill_from_environment(settings: Mapping[str, str], source: str) -> tuple[dict, frozenset]:
    """The settings with each value the file leaves empty filled in; the keys filled."""
    result = dict(settings)
    filled = set()
    for variable, key in ENVIRONMENT_VALUES.items():
        value = os.environ.get(variable, "").strip()
        if not value:
            continue
        stated = (result.get(key) or "").strip()
        if not stated:
            result[key] = value
            filled.add(key)
        elif stated != value:
            log.warning("%s is set but ignored: %s states its own %s", variable, source, key)
    return result, frozenset(filled)


def apply_environment(settings: Mapping[str, str], source: str = "the app settings") -> dict:
    """``settings`` with the values they leave to the environment filled in from it."""
    return _fill_from_environment(settings, source)[0]


@dataclass(frozen=True)
class AppConfig:
    """An ini file's ``[app:main]`` settings, and which of them came from the environment."""

    path: str
    settings: dict[str, str]
    from_environment: frozenset[str]

    def origin(self, key: str) -> str:
        """Where the value of ``key`` came from, for messages that name a database."""
        if key in self.from_environment:
            variable = next(v for v, k in ENVIRONMENT_VALUES.items() if k == key)
            return f"{variable}, as {self.path} leaves {key} to the environment"
        return f"{key} in {self.path}"


def read_app_config(config_uri: str | os.PathLike) -> AppConfig:
    """The ``[app:main]`` settings of ``config_uri``, with what the environment fills in."""
    config_uri = str(config_uri)
    path = Path(config_uri.split("#", 1)[0])
    if not path.is_file():
        raise ConfigError(f"{config_uri}: no such configuration file")
    from pyramid.paster import get_appsettings

    try:
        settings = get_appsettings(config_uri)
    except Exception as exc:  # plaster and PasteDeploy raise many kinds; all mean "unreadable"
        raise ConfigError(f"{config_uri}: cannot read the configuration: {exc}") from exc
    values, filled = _fill_from_environment(settings, config_uri)
    return AppConfig(config_uri, values, filled)


def read_app_settings(config_uri: str | os.PathLike) -> dict[str, str]:
    """The ``[app:main]`` settings of ``config_uri``, with what the environment fills in."""
    return read_app_config(config_uri).settings


def database_url(settings: Mapping[str, str], source: str) -> str:
    url = (settings.get("sqlalchemy.url") or "").strip()
    if not url:
        raise ConfigError(
            f"{source}: no database configured: set sqlalchemy.url in the file "
            "or the PYPI_WEB_DATABASE_URL environment variable"
        )
    return url
