"""Projects and releases: their pages and the queries behind them."""


def includeme(config):
    # Imported here: pypi_web.page_cache itself imports pypi_web.packaging.names.
    from pypi_web.packaging.resources import ProjectResource
    from pypi_web.page_cache import PROJECT

    config.add_route("project", "/project/{name}/", factory=ProjectResource)
    config.add_route("release", "/project/{name}/{version}/", factory=ProjectResource)
    config.cache_pages("project", depends_on=PROJECT)
    config.cache_pages("release", depends_on=PROJECT)
