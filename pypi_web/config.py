"""Reading the app's settings: the ini file, then the environment.

Deployments keep secrets and per-environment values out of the ini file:
these environment variables, when set, override the setting beside them.
The site, Alembic's env.py and every console command read settings here, so
they can never disagree about which database they talk to.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENVIRONMENT_OVERRIDES = {
    "PYPI_WEB_DATABASE_URL": "sqlalchemy.url",
    "PYPI_WEB_FILES_DIR": "files.storage_dir",
}


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the file and the reason."""


def apply_environment(settings: Mapping[str, str]) -> dict[str, str]:
    result = dict(settings)
    for variable, key in ENVIRONMENT_OVERRIDES.items():
        value = os.environ.get(variable, "").strip()
        if value:
            result[key] = value
    return result


def read_app_settings(config_uri: str | os.PathLike) -> dict[str, str]:
    """The ``[app:main]`` settings of ``config_uri``, environment overrides applied."""
    config_uri = str(config_uri)
    path = Path(config_uri.split("#", 1)[0])
    if not path.is_file():
        raise ConfigError(f"{config_uri}: no such configuration file")
    from pyramid.paster import get_appsettings

    try:
        settings = get_appsettings(config_uri)
    except Exception as exc:  # plaster and PasteDeploy raise many kinds; all mean "unreadable"
        raise ConfigError(f"{config_uri}: cannot read the configuration: {exc}") from exc
    return apply_environment(settings)


def database_url(settings: Mapping[str, str], source: str) -> str:
    url = (settings.get("sqlalchemy.url") or "").strip()
    if not url:
        raise ConfigError(
            f"{source}: no database configured: set sqlalchemy.url in the file "
            "or the PYPI_WEB_DATABASE_URL environment variable"
        )
    return url
