"""The security policy: identity, principals and ACL checks for other features' views."""

from __future__ import annotations

from pyramid.authorization import Allow, Authenticated, Everyone
from pyramid.testing import DummyRequest

from pypi_web.accounts.security import SessionSecurityPolicy


class ProjectContext:
    def __init__(self, owner_id: int):
        self.__acl__ = [(Allow, f"user:{owner_id}", "manage"), (Allow, Authenticated, "view")]


def request_for(user) -> DummyRequest:
    request = DummyRequest()
    request.user = user
    return request


def test_anonymous_has_no_identity_and_only_everyone(make_user):
    policy = SessionSecurityPolicy()
    request = request_for(None)
    assert policy.identity(request) is None
    assert policy.authenticated_userid(request) is None
    assert policy.principals(request) == [Everyone]
    assert not policy.permits(request, ProjectContext(1), "view")


def test_a_user_is_permitted_what_the_acl_grants_them(make_user):
    policy = SessionSecurityPolicy()
    owner, other = make_user("aclowner"), make_user("aclother")
    context = ProjectContext(owner.id)
    assert policy.identity(request_for(owner)) is owner
    assert policy.authenticated_userid(request_for(owner)) == str(owner.id)
    assert policy.permits(request_for(owner), context, "manage")
    assert not policy.permits(request_for(other), context, "manage")
    assert policy.permits(request_for(other), context, "view")


def test_superusers_get_the_admin_group(make_user):
    admin = make_user("acladmin", is_superuser=True)
    assert "group:admins" in SessionSecurityPolicy().principals(request_for(admin))


def test_request_user_and_identity_agree_in_the_app(testapp, make_user):
    from .helpers import log_in

    make_user("identity")
    log_in(testapp, "identity")
    # The account page reads request.user; the nav shows who it is.
    assert testapp.get("/account/").html.select_one(".nav-account").get_text() == "identity"
