"""The project resource's permissions: Package.__acl__ as Warehouse's roles grant them."""

from __future__ import annotations

from pyramid.authorization import ACLHelper, Authenticated, Everyone

from pypi_web.models import MAINTAINER, MANAGE, OWNER, UPLOAD, Package, Role


def principals(user):
    return [Everyone, Authenticated, f"user:{user.id}"]


def test_owners_manage_and_upload_maintainers_upload(dbsession, make_user):
    owner, maintainer, stranger = make_user("own"), make_user("keep"), make_user("other")
    package = Package(name="acl-pkg", normalized_name="acl-pkg", last_serial=0)
    package.roles = [
        Role(user=owner, role_name=OWNER),
        Role(user=maintainer, role_name=MAINTAINER),
    ]
    dbsession.add(package)
    dbsession.flush()
    acl = ACLHelper()
    granted = {
        user.username: [p for p in (MANAGE, UPLOAD) if acl.permits(package, principals(user), p)]
        for user in (owner, maintainer, stranger)
    }
    assert granted == {"own": [MANAGE, UPLOAD], "keep": [UPLOAD], "other": []}
    assert not acl.permits(package, [Everyone], UPLOAD)
