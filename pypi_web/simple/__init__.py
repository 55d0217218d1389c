"""The simple repository API pip reads (PEP 503, 691, 658, 700, 592), and file downloads."""

from pypi_web.cache import PROJECT
from pypi_web.simple.resources import SimpleProjectResource


def includeme(config):
    # Uploaded files: the storage (pypi_web.files) and their download URLs.
    config.include("pypi_web.files")
    config.add_route("simple_index", "/simple/")
    config.add_route("simple_detail", "/simple/{name}/", factory=SimpleProjectResource)
    config.add_route("file", "/files/*subpath")
    config.cache_pages("simple_detail", depends_on=PROJECT)
