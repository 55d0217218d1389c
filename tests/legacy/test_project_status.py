"""PEP 792 project status: owners archive or deprecate, admins quarantine; what each stops."""

from __future__ import annotations

import pypi_simple

from pypi_web.manage import services as manage
from pypi_web.models import Package

from ..accounts.helpers import form_posting_to, log_in, page_text
from .conftest import make_wheel

NAME = "status-demo"
V1_JSON = "application/vnd.pypi.simple.v1+json"


def publish(post_upload, version: str, status=200):
    filename, content = make_wheel(NAME, version)
    return post_upload(filename, content, name=NAME, version=version, status=status)


def simple_pages(testapp):
    data = testapp.get(f"/simple/{NAME}/", headers={"Accept": V1_JSON}).json
    html = testapp.get(f"/simple/{NAME}/", headers={"Accept": "text/html"}).text
    base = "http://localhost/simple/"
    return data, [
        pypi_simple.ProjectPage.from_json_data(data, base),
        pypi_simple.ProjectPage.from_html(NAME, html, base),
    ]


def package(dbsession) -> Package:
    return dbsession.query(Package).filter_by(normalized_name=NAME).one()


def test_owner_archives_the_project_clients_are_told_and_uploads_refused(
    testapp, post_upload, dbsession
):
    publish(post_upload, "1.0")
    log_in(testapp, "uploader")
    page = testapp.get(f"/manage/project/{NAME}/")
    form = form_posting_to(page, f"/manage/project/{NAME}/status/")
    form["status"] = "archived"
    form["reason"] = "Merged into status-demo-ng"
    assert f"{NAME} is now archived." in page_text(form.submit(status=303).follow())

    data, parsed = simple_pages(testapp)
    assert data["meta"]["api-version"] == "1.4"
    assert data["project-status"] == {"status": "archived", "reason": "Merged into status-demo-ng"}
    for page in parsed:
        assert page.status == pypi_simple.ProjectStatus.ARCHIVED
        assert page.status_reason == "Merged into status-demo-ng"
        assert [p.filename for p in page.packages] == ["status_demo-1.0-py3-none-any.whl"]
    shown = page_text(testapp.get(f"/project/{NAME}/"))
    assert "This project is archived. Merged into status-demo-ng" in shown

    # pypi.org's words for an archived project (its owners lose the upload permission).
    refused = publish(post_upload, "1.1", status=403)
    assert refused.status == (
        f"403 The user 'uploader' isn't allowed to upload to project '{NAME}'. "
        f"See http://localhost/project/{NAME}/ for more information."
    )


def test_deprecated_projects_still_take_uploads(testapp, post_upload, dbsession):
    publish(post_upload, "1.0")
    manage.set_status(dbsession, package(dbsession), "deprecated", "Use other", None)
    publish(post_upload, "1.1")
    _, parsed = simple_pages(testapp)
    assert all(p.status == pypi_simple.ProjectStatus.DEPRECATED for p in parsed)


def test_quarantine_hides_and_refuses_the_files_and_only_an_admin_lifts_it(
    testapp, post_upload, dbsession
):
    publish(post_upload, "1.0")
    file_url = testapp.get(f"/simple/{NAME}/", headers={"Accept": V1_JSON}).json["files"][0]["url"]
    manage.set_status(
        dbsession, package(dbsession), "quarantined", "Reported as malware", None, admin=True
    )

    data, parsed = simple_pages(testapp)
    assert data["files"] == []
    for page in parsed:
        assert page.status == pypi_simple.ProjectStatus.QUARANTINED
        assert page.packages == []
    gone = testapp.get(file_url.removeprefix("http://localhost"), status=404)
    assert "quarantined" in gone.text
    refused = publish(post_upload, "1.1", status=403)
    assert f"403 The user 'uploader' isn't allowed to upload to project '{NAME}'." in (
        refused.status
    )

    log_in(testapp, "uploader")
    token = form_posting_to(
        testapp.get(f"/manage/project/{NAME}/"), f"/manage/project/{NAME}/roles/"
    )["csrf_token"].value
    denied = testapp.post(
        f"/manage/project/{NAME}/status/", {"csrf_token": token, "status": "active"}, status=400
    )
    assert "only an admin can change its status" in page_text(denied)

    manage.set_status(dbsession, package(dbsession), "active", None, None, admin=True)
    assert testapp.get(f"/simple/{NAME}/", headers={"Accept": V1_JSON}).json["files"]


def test_owners_cannot_quarantine(testapp, post_upload, dbsession):
    publish(post_upload, "1.0")
    log_in(testapp, "uploader")
    token = form_posting_to(
        testapp.get(f"/manage/project/{NAME}/"), f"/manage/project/{NAME}/status/"
    )["csrf_token"].value
    refused = testapp.post(
        f"/manage/project/{NAME}/status/",
        {"csrf_token": token, "status": "quarantined"},
        status=400,
    )
    assert "is not one of active, archived, deprecated" in page_text(refused)
