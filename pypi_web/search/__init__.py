"""Search: /search/?q=<words>&c=<classifier>&page=<n> (classifier browsing links here)."""


def includeme(config):
    config.add_route("search", "/search/")
