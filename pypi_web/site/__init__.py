"""The site's own pages: home, about, classifier browsing, errors; template helpers."""

from pyramid.events import BeforeRender

from pypi_web.cache import INDEX

from . import helpers


def add_template_helpers(event: BeforeRender) -> None:
    # Formatting helpers every template may use as ``h.short_date(...)`` etc.
    event.setdefault("h", helpers)


def includeme(config):
    config.add_static_view("static", "pypi_web:static", cache_max_age=3600)
    config.add_route("home", "/")
    config.add_route("about", "/about/")
    config.add_route("classifiers", "/classifiers/")
    config.add_route("favicon", "/favicon.ico")
    config.add_subscriber(add_template_helpers, BeforeRender)

    from .services import StatsCache

    max_age = float(config.get_settings().get("site.stats_cache_seconds", 0))
    config.registry["site_stats_cache"] = StatsCache(max_age)
    # The home page also shows the counts, which no journal entry tracks.
    config.cache_pages("home", depends_on=INDEX, max_age=max_age)
    config.cache_pages("about", depends_on=INDEX)
    config.cache_pages("classifiers", depends_on=INDEX)
