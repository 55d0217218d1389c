"""Projects and releases: their pages and the queries behind them."""


def includeme(config):
    config.add_route("project", "/project/{name}/")
    config.add_route("release", "/project/{name}/{version}/")
