"""Search and browsing by classifier."""


def includeme(config):
    pass
