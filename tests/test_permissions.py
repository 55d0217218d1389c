"""Every view of the app main() builds is public on purpose or declares a permission."""

from __future__ import annotations

# Routes whose views anyone may call, each with the reason. Every other
# routed view must declare permission= (granted by an ACL: Package.__acl__
# for projects, pypi_web.accounts.security.Root for one's own account).
PUBLIC = {
    "home": "read-only pages",
    "about": "read-only pages",
    "classifiers": "read-only pages",
    "favicon": "read-only pages",
    "search": "read-only pages",
    "project": "read-only pages",
    "release": "read-only pages",
    "profile": "read-only pages",
    "simple_index": "the simple API pip reads",
    "simple_detail": "the simple API pip reads",
    "file": "downloads",
    "json_project": "the JSON API",
    "json_release": "the JSON API",
    "schema_status": "deploy checks",
    "upstream_status": "deploy checks",
    "upstream_file": "downloads (fetched from an upstream index)",
    "register": "anyone may open an account",
    "login": "anyone may log in",
    "logout": "logging out needs no permission",
    # Basic credentials per request; the project's ACL is checked in the view
    # (pypi_web.legacy.upload.check_permission), the project being in the body.
    "upload": "authenticates its own credentials",
    "__static/": "static files",
}


def routed_views(app):
    """(route name, request methods, permission) of every view of every route."""
    introspector = app.registry.introspector
    for route in introspector.get_category("routes"):
        name = route["introspectable"]["name"]
        for related in route["related"]:
            if related.category_name == "views":
                permissions = [
                    p["value"]
                    for p in introspector.related(related)
                    if p.category_name == "permissions"
                ]
                yield name, related["request_methods"], permissions[0] if permissions else None


def test_every_non_public_view_declares_a_permission(app):
    views = list(routed_views(app))
    assert len(views) > 20
    unprotected = [(name, methods) for name, methods, permission in views if permission is None]
    assert [v for v in unprotected if v[0] not in PUBLIC] == []


def test_the_public_list_names_registered_routes(app):
    assert set(PUBLIC) <= {name for name, _, _ in routed_views(app)}


def test_project_management_needs_the_manage_permission(app):
    permissions = {name: permission for name, _, permission in routed_views(app)}
    manage = {name: p for name, p in permissions.items() if name.startswith("manage_")}
    assert manage and set(manage.values()) == {"manage"}
