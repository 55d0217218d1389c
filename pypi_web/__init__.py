"""pypi_web: a package index web site in the style of pypi.org."""

from pyramid.config import Configurator


def main(global_config, **settings):
    """Build the WSGI application (paste.app_factory)."""
    with Configurator(settings=settings) as config:
        config.include("pyramid_chameleon")
        config.include(".models")
        config.include(".site")
        config.include(".packaging")
        config.include(".search")
        config.include(".accounts")
        config.include(".simple")
        config.include(".legacy")
        config.include(".manage")
        config.scan()
    return config.make_wsgi_app()
