"""Search: /search/?q=<words>&c=<classifier>&page=<n> (classifier browsing links here)."""

from pypi_web.cache import INDEX


def includeme(config):
    config.add_route("search", "/search/")
    config.cache_pages("search", depends_on=INDEX)
