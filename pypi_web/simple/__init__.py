"""The simple repository API pip reads (PEP 503, 691, 658, 700, 592)."""


def includeme(config):
    pass
