"""Users: registration, login, sessions, API tokens."""


def includeme(config):
    pass
