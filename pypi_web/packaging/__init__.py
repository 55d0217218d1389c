"""Projects and releases: their pages, the queries behind them, and how they are written."""


def includeme(config):
    # Imported here, not at the top: the models import packaging.names, and
    # importing this package must not pull the models back in half-made.
    from pypi_web.packaging.journal import PROJECT
    from pypi_web.packaging.resources import ProjectPageResource, ProjectResource

    config.add_route("project", "/project/{name}/", factory=ProjectPageResource)
    config.add_route("release", "/project/{name}/{version}/", factory=ProjectResource)
    config.cache_pages("project", depends_on=PROJECT)
    config.cache_pages("release", depends_on=PROJECT)
