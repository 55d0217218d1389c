"""The site's own pages: home, about, errors."""


def includeme(config):
    config.add_static_view("static", "pypi_web:static", cache_max_age=3600)
    config.add_route("home", "/")
