"""Per-project rules against dependency confusion, and PEP 708, set on the manage page."""

from __future__ import annotations

import datetime

import pypi_simple
import pytest

from pypi_web.models import OWNER, Package, Release, ReleaseFile, Role

from ..accounts.helpers import csrf_token, form_posting_to, log_in, page_text

NAME = "private-twin"
V1_JSON = "application/vnd.pypi.simple.v1+json"
PRIVATE_FILE = "private_twin-1.0-py3-none-any.whl"


@pytest.fixture
def private_project(dbsession, make_user, fake_upstream):
    """A local project "private-twin" 1.0, owned by "owner"; the upstream has a public 9.0."""
    owner = make_user("owner")
    package = Package(name=NAME, normalized_name=NAME, last_serial=0)
    release = Release(package=package, version="1.0", canonical_version="1.0")
    dbsession.add_all([package, release, Role(user=owner, package=package, role_name=OWNER)])
    dbsession.add(
        ReleaseFile(
            release=release,
            filename=PRIVATE_FILE,
            packagetype="bdist_wheel",
            size=10,
            sha256_digest="a" * 64,
            upload_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
            url="https://files.example.org/private_twin-1.0-py3-none-any.whl",
        )
    )
    dbsession.flush()
    fake_upstream.add_wheel(NAME, "9.0")
    return package


def files_served(testapp) -> list[str]:
    page = testapp.get(f"/simple/{NAME}/", headers={"Accept": V1_JSON}).json
    return [f["filename"] for f in page["files"]]


def set_rules(testapp, **fields):
    page = testapp.get(f"/manage/project/{NAME}/")
    form = form_posting_to(page, f"/manage/project/{NAME}/index-rules/")
    for key, value in fields.items():
        form[key] = value
    return form.submit(status=303).follow()


def test_a_private_name_is_never_merged_with_its_public_twin_by_default(
    upstream_testapp, private_project, fake_upstream
):
    assert files_served(upstream_testapp) == [PRIVATE_FILE]
    assert fake_upstream.requests == []


def test_owners_allow_both_or_upstream_only(upstream_testapp, private_project, dbsession):
    log_in(upstream_testapp, "owner")
    serial = private_project.last_serial
    done = set_rules(upstream_testapp, upstream_mode="both")
    assert "The index rules have been saved." in page_text(done)
    assert private_project.last_serial > serial
    assert files_served(upstream_testapp) == [PRIVATE_FILE, "private_twin-9.0-py3-none-any.whl"]
    page = upstream_testapp.get(f"/simple/{NAME}/", headers={"Accept": V1_JSON}).json
    assert page["versions"] == ["1.0", "9.0"]

    set_rules(upstream_testapp, upstream_mode="upstream-only")
    assert files_served(upstream_testapp) == ["private_twin-9.0-py3-none-any.whl"]


def test_only_owners_set_the_rules(upstream_testapp, private_project, make_user):
    make_user("stranger")
    log_in(upstream_testapp, "stranger")
    token = csrf_token(upstream_testapp.get("/account/"))
    upstream_testapp.post(
        f"/manage/project/{NAME}/index-rules/",
        {"csrf_token": token, "upstream_mode": "both"},
        status=403,
    )
    assert files_served(upstream_testapp) == [PRIVATE_FILE]


def test_bad_rules_are_refused_with_the_reason(upstream_testapp, private_project):
    log_in(upstream_testapp, "owner")
    page = upstream_testapp.get(f"/manage/project/{NAME}/")
    form = form_posting_to(page, f"/manage/project/{NAME}/index-rules/")
    form["tracks"] = "javascript:alert(1)"
    refused = form.submit(status=400)
    assert "is not an http or https URL (tracks)" in page_text(refused)
    upstream_testapp.post(
        f"/manage/project/{NAME}/index-rules/",
        {"csrf_token": form["csrf_token"].value, "upstream_mode": "everything"},
        status=400,
    )


def test_pep_708_tracks_and_alternate_locations_as_pypi_simple_reads_them(
    upstream_testapp, private_project
):
    log_in(upstream_testapp, "owner")
    tracks = "https://pypi.org/simple/private-twin/"
    alternates = "https://mirror.example.org/simple/private-twin/\nhttps://other.example.org/simple/private-twin/"
    set_rules(upstream_testapp, tracks=tracks, alternate_locations=alternates)
    upstream_testapp.reset()

    data = upstream_testapp.get(f"/simple/{NAME}/", headers={"Accept": V1_JSON}).json
    from_json = pypi_simple.ProjectPage.from_json_data(data, "http://localhost/simple/")
    html = upstream_testapp.get(f"/simple/{NAME}/", headers={"Accept": "text/html"}).text
    from_html = pypi_simple.ProjectPage.from_html(NAME, html, "http://localhost/simple/")
    for page in (from_json, from_html):
        assert page.repository_version == "1.2"
        assert page.tracks == [tracks]
        assert page.alternate_locations == alternates.splitlines()
        assert [p.filename for p in page.packages] == [PRIVATE_FILE]


def test_pages_without_pep_708_stay_at_api_version_1_1(upstream_testapp, private_project):
    data = upstream_testapp.get(f"/simple/{NAME}/", headers={"Accept": V1_JSON}).json
    assert data["meta"]["api-version"] == "1.1"
    assert "tracks" not in data and "alternate-locations" not in data
