"""Formatting and linking helpers for templates (available as ``h``)."""

from __future__ import annotations

from urllib.parse import urlencode

from pyramid.interfaces import IRoutesMapper

from pypi_web.files import download_url
from pypi_web.packaging.rendering import human_size, iso, short_date

__all__ = [
    "file_url",
    "has_route",
    "human_size",
    "iso",
    "package_type_label",
    "route_path_or",
    "search_path",
    "short_date",
]


def has_route(request, name: str) -> bool:
    mapper = request.registry.queryUtility(IRoutesMapper)
    return mapper is not None and mapper.get_route(name) is not None


def route_path_or(request, name: str, fallback: str, **kw) -> str:
    """``request.route_path(name, **kw)``, or ``fallback`` while another feature
    package that owns the route is not installed (each is optional to the site)."""
    if has_route(request, name):
        return request.route_path(name, **kw)
    return fallback


def search_path(request, **query: str) -> str:
    """The search page's URL with ``query`` (``c=<classifier>``, ``q=...``)."""
    path = route_path_or(request, "search", "/search/")
    return f"{path}?{urlencode(query)}" if query else path


# pypi.org's labels for the package types files are published as.
_PACKAGE_TYPES = {
    "sdist": "Source",
    "bdist_wheel": "Wheel",
    "bdist_egg": "Egg",
    "bdist_wininst": "Windows installer",
    "bdist_msi": "Windows MSI installer",
    "bdist_rpm": "RPM",
    "bdist_dmg": "macOS disk image",
    "bdist_dumb": "Built (dumb)",
}


def package_type_label(packagetype: str) -> str:
    return _PACKAGE_TYPES.get(packagetype, packagetype)


def file_url(request, release_file) -> str:
    """A file's download URL on a page (pypi_web.files.download_url's rule)."""
    # The route is "/files/*subpath" (pypi_web.simple): the path fills the star.
    prefix = route_path_or(request, "file", "/files/", subpath="")
    return download_url(prefix, release_file.url, release_file.path)
