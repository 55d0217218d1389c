"""Projects and releases: their pages and the queries behind them."""


def includeme(config):
    pass
