"""The project resource's permissions: Package.__acl__ as Warehouse's roles grant them."""

from __future__ import annotations

from pyramid.authorization import ACLHelper, Authenticated, Everyone

from pypi_web.models import MAINTAINER, MANAGE, UPLOAD, Role

from .. import factories


def principals(user):
    return [Everyone, Authenticated, f"user:{user.id}"]


def test_owners_manage_and_upload_maintainers_upload(dbsession, make_user):
    owner, maintainer, stranger = make_user("own"), make_user("keep"), make_user("other")
    package = factories.project(dbsession, "acl-pkg", owner=owner)
    dbsession.add(Role(user=maintainer, package=package, role_name=MAINTAINER))
    dbsession.flush()
    acl = ACLHelper()
    granted = {
        user.username: [p for p in (MANAGE, UPLOAD) if acl.permits(package, principals(user), p)]
        for user in (owner, maintainer, stranger)
    }
    assert granted == {"own": [MANAGE, UPLOAD], "keep": [UPLOAD], "other": []}
    assert not acl.permits(package, [Everyone], UPLOAD)
