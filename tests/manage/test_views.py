"""The owners' page, driven like a browser: real login, real forms with their CSRF tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pypi_web.manage import services
from pypi_web.models import MAINTAINER, AuditEvent, JournalEntry, Package, Release, Role

from ..accounts.helpers import form_posting_to, log_in, page_text
from ..factories import DEMO_PROJECT

NAME = DEMO_PROJECT


def release(dbsession, version) -> Release:
    return dbsession.scalars(
        select(Release).join(Package).where(Package.name == NAME, Release.version == version)
    ).one()


def manage_url(name=NAME):
    return f"/manage/project/{name}/"


def test_anonymous_is_sent_to_login(testapp, project):
    response = testapp.get(manage_url(), status=303)
    assert "/account/login/?next=" in response.location


def test_other_users_get_403(testapp, project, make_user, dbsession):
    maintainer = make_user("helper")
    dbsession.add(Role(user=maintainer, package=project, role_name=MAINTAINER))
    make_user("stranger")
    dbsession.flush()
    for username in ("stranger", "helper"):
        testapp.reset()
        assert log_in(testapp, username).status_int == 303
        testapp.get(manage_url(), status=403)
    testapp.get(manage_url("no-such-project"), status=404)


def test_yank_and_unyank_with_a_reason(testapp, project, dbsession):
    log_in(testapp, "owner")
    page = testapp.get(manage_url())
    assert "2.0" in page_text(page)
    serial = project.last_serial
    form = form_posting_to(page, f"/manage/project/{NAME}/release/2.0/yank/")
    form["reason"] = "Broken on Windows"
    done = form.submit(status=303).follow()
    assert "Release 2.0 has been yanked." in page_text(done)
    assert "Yanked: Broken on Windows" in page_text(done)
    yanked = release(dbsession, "2.0")
    assert yanked.yanked and yanked.yanked_reason == "Broken on Windows"
    assert project.last_serial > serial
    entry = dbsession.scalars(select(JournalEntry).order_by(JournalEntry.id.desc())).first()
    assert (entry.action, entry.version, entry.submitted_by.username) == (
        "yank release",
        "2.0",
        "owner",
    )
    assert dbsession.scalars(select(AuditEvent).where(AuditEvent.tag == "package:yank")).one()
    # pip sees it: the simple page marks the release's files (none here) and JSON API says so.
    assert testapp.get(f"/pypi/{NAME}/2.0/json").json["info"]["yanked_reason"] == (
        "Broken on Windows"
    )

    form = form_posting_to(done, f"/manage/project/{NAME}/release/2.0/unyank/")
    after = form.submit(status=303).follow()
    assert "Release 2.0 is no longer yanked." in page_text(after)
    assert not release(dbsession, "2.0").yanked
    assert release(dbsession, "2.0").yanked_reason is None


def test_forms_need_the_csrf_token(testapp, project, dbsession):
    log_in(testapp, "owner")
    testapp.post(f"/manage/project/{NAME}/release/2.0/yank/", {"reason": "no token"}, status=400)
    assert not release(dbsession, "2.0").yanked


def test_add_and_remove_maintainer(testapp, project, make_user, dbsession):
    make_user("helper")
    log_in(testapp, "owner")
    page = testapp.get(manage_url())
    form = form_posting_to(page, f"/manage/project/{NAME}/roles/")
    form["username"] = "Helper"
    done = form.submit(status=303).follow()
    assert "helper is now a maintainer." in page_text(done)
    role = dbsession.scalars(
        select(Role).where(Role.package_id == project.id, Role.role_name == MAINTAINER)
    ).one()
    assert role.user.username == "helper"
    role_id = role.id  # the row is removed below, by a request of its own

    # Adding someone twice, or nobody, is refused with the reason.
    form = form_posting_to(done, f"/manage/project/{NAME}/roles/")
    form["username"] = "helper"
    refused = form.submit(status=400)
    assert f"helper already has a role on {NAME}." in page_text(refused)
    form = form_posting_to(done, f"/manage/project/{NAME}/roles/")
    form["username"] = "nobody-at-all"
    assert "There is no user named 'nobody-at-all'." in page_text(form.submit(status=400))

    form = form_posting_to(done, f"/manage/project/{NAME}/roles/{role_id}/remove/")
    removed = form.submit(status=303).follow()
    assert "helper is no longer a maintainer." in page_text(removed)
    assert dbsession.get(Role, role_id) is None
    actions = dbsession.scalars(
        select(JournalEntry.action)
        .where(JournalEntry.package_name == NAME)
        .order_by(JournalEntry.id)
    ).all()
    # The fixture's "create", then the two changes made here.
    assert actions == ["create", "add Maintainer helper", "remove Maintainer helper"]


def test_last_owner_cannot_be_removed(testapp, project, dbsession):
    log_in(testapp, "owner")
    page = testapp.get(manage_url())
    owner_role = dbsession.scalars(select(Role).where(Role.package_id == project.id)).one()
    form = form_posting_to(page, f"/manage/project/{NAME}/roles/{owner_role.id}/remove/")
    refused = form.submit(status=400)
    assert "A project must keep at least one owner." in page_text(refused)
    assert dbsession.get(Role, owner_role.id) is not None


def test_unnormalized_name_redirects(testapp, project):
    log_in(testapp, "owner")
    response = testapp.get("/manage/project/Demo_Pkg/", status=301)
    assert response.location.endswith(manage_url())


def test_services_refuse_double_yank(dbsession, project):
    owner = project.roles[0].user
    services.yank(dbsession, release(dbsession, "1.0"), "", owner)
    assert release(dbsession, "1.0").yanked_reason is None
    with pytest.raises(services.ManageError, match="already yanked"):
        services.yank(dbsession, release(dbsession, "1.0"), "again", owner)
    with pytest.raises(services.ManageError, match="not yanked"):
        services.unyank(dbsession, release(dbsession, "2.0"), owner)
