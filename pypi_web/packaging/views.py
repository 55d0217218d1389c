"""The project page and the release page (one template, two routes)."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPMovedPermanently, HTTPNotFound
from pyramid.view import view_config

from pypi_web.packaging import services
from pypi_web.packaging.names import is_valid_name, normalize

DETAIL_TEMPLATE = "pypi_web:templates/packaging/detail.pt"


# Longer names and versions cannot be stored (String(200) and String(100)).
MAX_NAME_LENGTH = 200
MAX_VERSION_LENGTH = 100


def _package_or_404(request):
    name = request.matchdict["name"]
    if len(name) > MAX_NAME_LENGTH or not is_valid_name(name):
        # No stored project has such a name: answer without a query.
        raise HTTPNotFound(f"{name[:100]!r} is not a valid project name.")
    package = services.package_by_normalized_name(request.dbsession, normalize(name))
    if package is None:
        raise HTTPNotFound(f"There is no project named {name!r}.")
    return package


@view_config(route_name="project", renderer=DETAIL_TEMPLATE, request_method=("GET", "HEAD"))
def project_detail(request):
    package = _package_or_404(request)
    if request.matchdict["name"] != package.normalized_name:
        return HTTPMovedPermanently(request.route_url("project", name=package.normalized_name))
    releases = services.release_history(request.dbsession, package.id)
    latest = services.choose_latest(releases)
    if latest is None:
        # A project whose every release was deleted: pypi.org answers 404 too.
        raise HTTPNotFound(f"The project {package.name!r} has no releases.")
    return {"page": services.release_page(request.dbsession, package, releases, latest)}


@view_config(route_name="release", renderer=DETAIL_TEMPLATE, request_method=("GET", "HEAD"))
def release_detail(request):
    version = request.matchdict["version"]
    if len(version) > MAX_VERSION_LENGTH:
        raise HTTPNotFound("There is no release with so long a version.")
    package = _package_or_404(request)
    releases = services.release_history(request.dbsession, package.id)
    release = services.find_release(releases, version)
    if release is None:
        raise HTTPNotFound(f"The project {package.name!r} has no release {version!r}.")
    if request.matchdict["name"] != package.normalized_name or version != release.version:
        return HTTPMovedPermanently(
            request.route_url("release", name=package.normalized_name, version=release.version)
        )
    return {
        "page": services.release_page(request.dbsession, package, releases, release, pinned=True)
    }
