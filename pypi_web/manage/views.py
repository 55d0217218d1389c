"""``/manage/project/<name>/``: the owners' page (yank and unyank releases, maintainers).

Owners only (``permission=MANAGE``, granted by ``Package.__acl__``): anonymous
visitors are sent to the login page, other users get 403. Every change is a
POST with the session's CSRF token (checked by Pyramid: CSRF is required by
default, see pypi_web.security), then a
redirect back to the page with a message (post/redirect/get); a change that
cannot be made re-renders the page with the reason and a 400.
"""

from __future__ import annotations

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from pypi_web.models import MAINTAINER, MANAGE, OWNER, Package, Release, Role
from pypi_web.packaging import services as packaging_services
from pypi_web.packaging import status as project_status
from pypi_web.upstream import rules as upstream_rules

from . import services

TEMPLATE = "pypi_web:templates/manage/project.pt"


def _release(request, package: Package) -> Release:
    release = request.dbsession.scalars(
        select(Release).where(
            Release.package_id == package.id, Release.version == request.matchdict["version"]
        )
    ).one_or_none()
    if release is None:
        raise HTTPNotFound(f"{package.name} has no release {request.matchdict['version']!r}.")
    return release


def manage_page(request, package: Package, error: str | None = None) -> dict:
    roles = request.dbsession.scalars(
        select(Role).options(joinedload(Role.user)).where(Role.package_id == package.id)
    ).all()
    roles = sorted(roles, key=lambda r: (r.role_name != OWNER, r.user.username_lower))
    if error is not None:
        request.response.status = 400
    request.response.cache_control = "no-store"
    return {
        "package": package,
        "releases": packaging_services.release_history(request.dbsession, package.id),
        "roles": roles,
        "error": error,
        "messages": request.session.pop_flash("manage"),
        "role_names": (MAINTAINER, OWNER),
        "upstream_modes": upstream_rules.MODES,
        "owner_statuses": project_status.OWNER_STATUSES,
    }


def _done(request, package: Package, message: str) -> HTTPSeeOther:
    request.session.flash(message, "manage")
    return HTTPSeeOther(request.route_path("manage_project", name=package.normalized_name))


@view_config(
    route_name="manage_project", renderer=TEMPLATE, request_method="GET", permission=MANAGE
)
def manage_project(request):
    return manage_page(request, request.context.package)


@view_config(route_name="manage_yank", renderer=TEMPLATE, request_method="POST", permission=MANAGE)
def yank(request):
    package = request.context.package
    release = _release(request, package)
    try:
        services.yank(
            request.dbsession,
            release,
            request.POST.get("reason", ""),
            request.user,
            request.client_address,
        )
    except services.ManageError as exc:
        return manage_page(request, package, str(exc))
    return _done(request, package, f"Release {release.version} has been yanked.")


@view_config(
    route_name="manage_unyank", renderer=TEMPLATE, request_method="POST", permission=MANAGE
)
def unyank(request):
    package = request.context.package
    release = _release(request, package)
    try:
        services.unyank(request.dbsession, release, request.user, request.client_address)
    except services.ManageError as exc:
        return manage_page(request, package, str(exc))
    return _done(request, package, f"Release {release.version} is no longer yanked.")


@view_config(route_name="manage_roles", renderer=TEMPLATE, request_method="POST", permission=MANAGE)
def add_role(request):
    package = request.context.package
    username = request.POST.get("username", "").strip()
    role_name = request.POST.get("role_name", MAINTAINER)
    if not username:
        return manage_page(request, package, "Enter the username of the person to add.")
    try:
        role = services.add_maintainer(
            request.dbsession,
            package,
            username,
            request.user,
            role_name=role_name,
            ip_address=request.client_address,
        )
    except services.ManageError as exc:
        return manage_page(request, package, str(exc))
    return _done(request, package, f"{role.user.username} is now a {role.role_name.lower()}.")


@view_config(
    route_name="manage_role_remove", renderer=TEMPLATE, request_method="POST", permission=MANAGE
)
def remove_role(request):
    package = request.context.package
    try:
        role_id = int(request.matchdict["role_id"])
    except ValueError:
        raise HTTPNotFound("There is no such role.") from None
    role = request.dbsession.get(Role, role_id)
    if role is None or role.package_id != package.id:
        raise HTTPNotFound("There is no such role on this project.")
    username, role_name = role.user.username, role.role_name
    removing_self = role.user_id == request.user.id
    try:
        services.remove_role(request.dbsession, package, role, request.user, request.client_address)
    except services.ManageError as exc:
        return manage_page(request, package, str(exc))
    if removing_self:
        # No longer an owner: this page would answer 403.
        return HTTPSeeOther(request.route_path("project", name=package.normalized_name))
    return _done(request, package, f"{username} is no longer a {role_name.lower()}.")


@view_config(
    route_name="manage_index_rules", renderer=TEMPLATE, request_method="POST", permission=MANAGE
)
def index_rules(request):
    package = request.context.package
    try:
        services.set_index_rules(
            request.dbsession, package, request.POST, request.user, request.client_address
        )
    except services.ManageError as exc:
        return manage_page(request, package, str(exc))
    return _done(request, package, "The index rules have been saved.")


@view_config(
    route_name="manage_status", renderer=TEMPLATE, request_method="POST", permission=MANAGE
)
def set_status(request):
    package = request.context.package
    try:
        services.set_status(
            request.dbsession,
            package,
            request.POST.get("status", ""),
            request.POST.get("reason"),
            request.user,
            ip_address=request.client_address,
        )
    except services.ManageError as exc:
        return manage_page(request, package, str(exc))
    return _done(request, package, f"{package.name} is now {package.status}.")
