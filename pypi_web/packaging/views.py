"""The project page and the release page (one template, two routes)."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config

from pypi_web.packaging import history, services
from pypi_web.upstream import views as upstream_views

DETAIL_TEMPLATE = "pypi_web:templates/packaging/detail.pt"


# The project comes from the route's factory (pypi_web.packaging.resources).
@view_config(route_name="project", renderer=DETAIL_TEMPLATE, request_method=("GET", "HEAD"))
def project_detail(request):
    package = request.context.package
    if package is None:
        # Perhaps an upstream's project cached here (pypi_web.upstream): shown as mirrored.
        mirrored = upstream_views.mirrored_project(request, request.context.normalized_name)
        if mirrored is not None:
            return mirrored
        raise HTTPNotFound(f"There is no project named {request.matchdict['name']!r}.")
    releases = services.release_history(request.dbsession, package.id)
    latest = services.choose_latest(releases)
    if latest is None:
        # A project whose every release was deleted: pypi.org answers 404 too.
        raise HTTPNotFound(f"The project {package.name!r} has no releases.")
    return _page(request, services.release_page(request.dbsession, package, releases, latest))


@view_config(route_name="release", renderer=DETAIL_TEMPLATE, request_method=("GET", "HEAD"))
def release_detail(request):
    version = request.matchdict["version"]
    package = request.context.package
    releases = services.release_history(request.dbsession, package.id)
    release = services.find_release(releases, version)
    if release is None:
        raise HTTPNotFound(f"The project {package.name!r} has no release {version!r}.")
    request.context.redirect_to_canonical(version=release.version)
    return _page(
        request, services.release_page(request.dbsession, package, releases, release, pinned=True)
    )


def _page(request, page: services.ReleasePage) -> dict:
    return {
        "page": page,
        "history_html": history.timeline_html(
            request, page.package, page.releases, page.release.id
        ),
    }
