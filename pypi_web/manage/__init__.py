"""Project management by owners: yanking releases, maintainers."""


def includeme(config):
    config.add_route("manage_project", "/manage/project/{name}/")
    config.add_route("manage_yank", "/manage/project/{name}/release/{version}/yank/")
    config.add_route("manage_unyank", "/manage/project/{name}/release/{version}/unyank/")
    config.add_route("manage_index_rules", "/manage/project/{name}/index-rules/")
    config.add_route("manage_status", "/manage/project/{name}/status/")
    config.add_route("manage_roles", "/manage/project/{name}/roles/")
    config.add_route("manage_role_remove", "/manage/project/{name}/roles/{role_id}/remove/")
