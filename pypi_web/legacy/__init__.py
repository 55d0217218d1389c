"""PyPI's legacy APIs: the upload endpoint twine posts to, and the JSON API."""


def includeme(config):
    config.include(".json_api")
    config.add_route("upload", "/legacy/")
