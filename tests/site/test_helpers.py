"""Template helpers: links to routes other feature packages may own."""

from __future__ import annotations

from pyramid import testing

from pypi_web.files import download_url
from pypi_web.models import ReleaseFile
from pypi_web.site import helpers


def make_request(*routes: tuple[str, str]):
    config = testing.setUp()
    for name, pattern in routes:
        config.add_route(name, pattern)
    return testing.DummyRequest()


def teardown_function():
    testing.tearDown()


def test_search_path_with_and_without_the_route():
    request = make_request()
    assert helpers.search_path(request) == "/search/"
    assert helpers.search_path(request, c="License :: OSI Approved") == (
        "/search/?c=License+%3A%3A+OSI+Approved"
    )
    request = make_request(("search", "/find/"))
    assert helpers.search_path(request, q="a&b") == "/find/?q=a%26b"


def test_file_url_prefers_the_original_url():
    request = make_request()
    imported = ReleaseFile(url="https://files.example.org/a-1.0.tar.gz", path=None)
    assert helpers.file_url(request, imported) == "https://files.example.org/a-1.0.tar.gz"
    uploaded = ReleaseFile(url=None, path="ab/cd/a-1.0.tar.gz")
    assert helpers.file_url(request, uploaded) == "/files/ab/cd/a-1.0.tar.gz"
    # The route as pypi_web.simple registers it.
    request = make_request(("file", "/files/*subpath"))
    assert helpers.file_url(request, uploaded) == "/files/ab/cd/a-1.0.tar.gz"


def test_pages_link_a_file_as_the_simple_api_does():
    # Stored here and known by an original URL too: one rule (pypi_web.files) for all.
    both = ReleaseFile(url="https://files.example.org/a-1.0.tar.gz", path="ab/cd/a-1.0.tar.gz")
    request = make_request(("file", "/files/*subpath"))
    assert helpers.file_url(request, both) == download_url("/files/", both.url, both.path)
    assert helpers.file_url(request, both) == "/files/ab/cd/a-1.0.tar.gz"


def test_package_type_label():
    assert helpers.package_type_label("sdist") == "Source"
    assert helpers.package_type_label("bdist_wheel") == "Wheel"
    assert helpers.package_type_label("bdist_something_new") == "bdist_something_new"
