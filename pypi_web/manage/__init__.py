"""Project management by owners: yanking releases, maintainers."""

from pypi_web.packaging.resources import LeanProjectResource


def includeme(config):
    config.add_route("manage_project", "/manage/project/{name}/", factory=LeanProjectResource)
    config.add_route(
        "manage_yank", "/manage/project/{name}/release/{version}/yank/", factory=LeanProjectResource
    )
    config.add_route(
        "manage_unyank",
        "/manage/project/{name}/release/{version}/unyank/",
        factory=LeanProjectResource,
    )
    config.add_route(
        "manage_index_rules", "/manage/project/{name}/index-rules/", factory=LeanProjectResource
    )
    config.add_route("manage_status", "/manage/project/{name}/status/", factory=LeanProjectResource)
    config.add_route("manage_roles", "/manage/project/{name}/roles/", factory=LeanProjectResource)
    config.add_route(
        "manage_role_remove",
        "/manage/project/{name}/roles/{role_id}/remove/",
        factory=LeanProjectResource,
    )
