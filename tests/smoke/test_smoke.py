"""Every page and API of the site answers, on the database it faces.

Run against an existing database with ``PYPI_WEB_SMOKE_DB_URL=URL pytest
tests/smoke`` (see conftest.py); the deploy test of the previous release runs
that release's copy of this suite against a database the next release migrated.
"""

from __future__ import annotations

import uuid

import pytest

from pypi_web.accounts import services as accounts
from tests.legacy.conftest import basic_auth, make_wheel, upload_fields

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


@pytest.mark.parametrize(
    "path", ["/", "/about/", "/search/", "/search/?q=http", "/classifiers/", "/account/login/"]
)
def test_site_page(client, path):
    assert "<html" in client.get(path, status=200).text


def test_register_page(client):
    # Registration may be closed by configuration; either way it is a page, not an error.
    client.get("/account/register/", status=[200, 403, 404])


def test_account_pages_send_anonymous_visitors_to_log_in(client, some_release):
    name = some_release.package.normalized_name
    for path in ("/account/", f"/manage/project/{name}/"):
        response = client.get(path, status=[302, 303])
        assert "/account/login/" in response.headers["Location"], path


def test_classifier_browse(client, some_release):
    classifiers = some_release.package.classifiers
    if not classifiers:
        pytest.skip(f"{some_release.package.name} has no classifiers")
    page = client.get("/search/", params={"c": classifiers[0].classifier}, status=200)
    assert "<html" in page.text


def test_project_and_release_pages(client, some_release):
    name, version = some_release.package.normalized_name, some_release.version
    assert some_release.package.name in client.get(f"/project/{name}/", status=200).text
    assert version in client.get(f"/project/{name}/{version}/", status=200).text


def test_simple_index_html_and_json(client, some_release):
    name = some_release.package.normalized_name
    assert f"/simple/{name}/" in client.get("/simple/", status=200).text
    index = client.get("/simple/", headers={"Accept": SIMPLE_JSON}, status=200).json
    assert name in {project["name"] for project in index["projects"]}


def test_simple_detail_html_and_json(client, some_release):
    name = some_release.package.normalized_name
    filenames = {f.filename for f in some_release.files}
    html = client.get(f"/simple/{name}/", status=200).text
    assert all(filename in html for filename in filenames)
    detail = client.get(f"/simple/{name}/", headers={"Accept": SIMPLE_JSON}, status=200).json
    assert filenames <= {f["filename"] for f in detail["files"]}


def test_json_api(client, some_release):
    name, version = some_release.package.normalized_name, some_release.version
    project = client.get(f"/pypi/{name}/json", status=200).json
    assert version in project["releases"]
    release = client.get(f"/pypi/{name}/{version}/json", status=200).json
    assert release["info"]["version"] == version
    assert {u["filename"] for u in release["urls"]} == {f.filename for f in some_release.files}


def test_upload_then_its_pages(client, smoke_session):
    """An upload with a token made by the app's own code, then every page that shows it."""
    user = accounts.create_user(smoke_session, f"smoke{uuid.uuid4().hex[:8]}", "smoke password 1")
    _, secret = accounts.create_api_token(smoke_session, user, "smoke")
    name, version = f"smoke-{uuid.uuid4().hex[:8]}", "1.0"
    filename, content = make_wheel(name, version)
    client.post(
        "/legacy/",
        params=upload_fields(name, version, filename, content),
        upload_files=[("content", filename, content)],
        headers=basic_auth(accounts.TOKEN_USERNAME, secret),
        status=200,
    )
    assert name in client.get(f"/project/{name}/", status=200).text
    assert filename in client.get(f"/simple/{name}/", status=200).text
    detail = client.get(f"/simple/{name}/", headers={"Accept": SIMPLE_JSON}, status=200).json
    [file] = detail["files"]
    assert file["core-metadata"] and file["core-metadata"]["sha256"]
    assert client.get(file["url"].split("#")[0] + ".metadata", status=200).body
    assert client.get(f"/pypi/{name}/{version}/json", status=200).json["urls"]
    assert user.username in client.get(f"/user/{user.username}/", status=200).text
