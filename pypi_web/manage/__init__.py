"""Project management by owners: yanking releases, maintainers."""


def includeme(config):
    pass
