"""pypi_web: a package index web site in the style of pypi.org."""

from pyramid.config import Configurator
from pyramid.settings import asbool

from . import cache, hosts
from .config import apply_environment, database_url
from .migrations.guard import check_schema_at_startup
from .migrations.views import CACHE_KEY as SCHEMA_CHECK_CACHE
from .models import DBCONNECTION_SETTING
from .templating import precompile_templates


def main(global_config, **settings):
    """Build the WSGI application (paste.app_factory)."""
    # What the ini file leaves to the environment comes from it (pypi_web.config).
    source = global_config.get("__file__") or "the app settings"
    settings = apply_environment(settings, source)
    if not settings.get("dbengine") and not settings.get(DBCONNECTION_SETTING):
        database_url(settings, source)
    with Configurator(settings=settings) as config:
        config.include("pyramid_chameleon")
        config.include(".models")
        # The database away or locked: 503, not 500 (pypi_web.outage).
        config.include(".outage")
        # Refuse to serve on a schema the code does not match (pypi_web.migrations.guard).
        check_schema_at_startup(
            config.registry["dbengine"],
            config.get_settings(),
            global_config.get("__file__"),
            cache=config.registry.setdefault(SCHEMA_CHECK_CACHE, {}),
        )
        config.include(".migrations")
        config.include(".audit")
        # Security headers, input sanity and CSRF first: they apply to every route.
        config.include(".security")
        # Rendered pages, served again while their serial is unchanged.
        config.include(".cache")
        config.include(".site")
        config.include(".packaging")
        config.include(".search")
        config.include(".accounts")
        config.include(".upstream")
        config.include(".simple")
        config.include(".legacy")
        config.include(".manage")
        config.scan()
    app = config.make_wsgi_app()
    if asbool(settings.get("templates.precompile")):
        precompile_templates(config.registry)
    # Outermost: the cache's keys, and every URL, carry the public host.
    return hosts.wrap(cache.wrap(app), settings)
