"""PyPI's legacy APIs: the upload endpoint twine posts to, and the JSON API."""


def includeme(config):
    config.include(".json_api")
    config.add_route("upload", "/legacy/")
    # request.uploader: who the upload's credentials name, or the response refusing them.
    config.add_request_method(".upload.authenticate", "uploader", reify=True)
