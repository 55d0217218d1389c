"""The account page (projects, API tokens) and the public profile."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pypi_web.accounts import services
from pypi_web.models import MAINTAINER, OWNER, ApiToken, Package, Role

from .helpers import csrf_token, form_posting_to, log_in, page_text


@pytest.fixture
def two_packages(dbsession) -> list[Package]:
    return list(dbsession.scalars(select(Package).order_by(Package.normalized_name).limit(2)))


@pytest.fixture
def publisher(make_user, dbsession, two_packages):
    """A user who owns the first package and maintains the second."""
    user = make_user("publisher", display_name="Pub Lisher")
    dbsession.add(Role(user=user, package=two_packages[0], role_name=OWNER))
    dbsession.add(Role(user=user, package=two_packages[1], role_name=MAINTAINER))
    dbsession.flush()
    return user


def create_token(testapp, description: str, project: str = ""):
    form = form_posting_to(testapp.get("/account/"), "/account/tokens/")
    form["description"] = description
    form["project"] = project
    return form.submit(expect_errors=True)


def test_account_page_lists_the_projects_owned_or_maintained(testapp, publisher, two_packages):
    log_in(testapp, "publisher")
    page = testapp.get("/account/")
    assert page.headers["Cache-Control"] == "no-store"
    items = [li.get_text(" ", strip=True) for li in page.html.select(".account-projects li")]
    assert items == [f"{two_packages[0].name} Owner", f"{two_packages[1].name} Maintainer"]
    link = page.html.select_one(".account-projects a")["href"]
    assert link == f"/project/{two_packages[0].normalized_name}/"


def test_account_page_without_projects_says_so(testapp, make_user):
    make_user("newcomer")
    log_in(testapp, "newcomer")
    assert "You do not own or maintain any projects yet." in page_text(testapp.get("/account/"))


def test_token_secret_is_shown_once_and_works(testapp, publisher, dbsession):
    log_in(testapp, "publisher")
    response = create_token(testapp, "CI on my laptop")
    assert response.status_int == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = response.html.find(id="token-secret").get_text(strip=True)
    assert secret.startswith("pypi-")
    assert "shown only this once" in page_text(response)

    token = services.token_for_secret(dbsession, secret)
    assert token is not None
    assert token.user is publisher
    assert token.description == "CI on my laptop"
    assert token.package is None
    # Only a hash is stored, and the secret never appears again.
    assert secret not in token.token_hash
    again = testapp.get("/account/")
    assert secret not in page_text(again)
    assert "CI on my laptop" in again.html.select_one(".token-table").get_text()
    assert secret not in testapp.cookies.get("session", "")


def test_token_limited_to_one_of_the_users_projects(testapp, publisher, dbsession, two_packages):
    log_in(testapp, "publisher")
    response = create_token(testapp, "deploy", two_packages[1].normalized_name)
    assert response.status_int == 200
    secret = response.html.find(id="token-secret").get_text(strip=True)
    token = services.token_for_secret(dbsession, secret)
    assert token.package is two_packages[1]
    assert f"can upload to {two_packages[1].name} only" in " ".join(
        response.html.select_one(".new-token").get_text(" ", strip=True).split()
    )
    row = testapp.get("/account/").html.select_one(".token-table tbody tr")
    assert two_packages[1].name in row.get_text()


def test_token_for_someone_elses_project_is_refused(testapp, make_user, dbsession, two_packages):
    make_user("outsider")
    log_in(testapp, "outsider")
    page = testapp.get("/account/")
    response = testapp.post(
        "/account/tokens/",
        {
            "csrf_token": csrf_token(page),
            "description": "sneaky",
            "project": two_packages[0].normalized_name,
        },
        status=400,
    )
    assert "Choose one of your own projects" in page_text(response)
    assert dbsession.scalars(select(ApiToken).where(ApiToken.description == "sneaky")).all() == []


@pytest.mark.parametrize(
    ("description", "message"),
    [("", "Give the token a name"), ("x" * 101, "at most 100"), ("bell\x07", "control")],
)
def test_token_name_errors(testapp, make_user, description, message):
    make_user("namer")
    log_in(testapp, "namer")
    page = testapp.get("/account/")
    response = testapp.post(
        "/account/tokens/",
        {"csrf_token": csrf_token(page), "description": description},
        status=400,
    )
    assert message in response.html.find(id="token-description-error").get_text()


def test_revoking_a_token(testapp, publisher, dbsession):
    log_in(testapp, "publisher")
    secret = create_token(testapp, "short-lived").html.find(id="token-secret").get_text(strip=True)
    token_id = services.token_for_secret(dbsession, secret).id
    page = testapp.get("/account/")
    form = form_posting_to(page, f"/account/tokens/{token_id}/revoke/")
    response = form.submit()
    assert response.status_int == 303
    assert "has been revoked" in page_text(response.follow())
    assert services.token_for_secret(dbsession, secret) is None
    assert "You have no API tokens." in page_text(testapp.get("/account/"))


def test_revoking_needs_the_csrf_token(testapp, publisher, dbsession):
    log_in(testapp, "publisher")
    secret = create_token(testapp, "kept").html.find(id="token-secret").get_text(strip=True)
    token_id = services.token_for_secret(dbsession, secret).id
    testapp.post(f"/account/tokens/{token_id}/revoke/", {}, status=400)
    assert services.token_for_secret(dbsession, secret) is not None


def test_revoking_someone_elses_token_is_404(
    testapp, second_browser, publisher, make_user, dbsession
):
    log_in(testapp, "publisher")
    secret = create_token(testapp, "mine").html.find(id="token-secret").get_text(strip=True)
    token_id = services.token_for_secret(dbsession, secret).id
    make_user("thief")
    log_in(second_browser, "thief")
    token = csrf_token(second_browser.get("/account/"))
    for path in (f"/account/tokens/{token_id}/revoke/", "/account/tokens/99999999999/revoke/"):
        response = second_browser.post(path, {"csrf_token": token}, status=404)
        assert "API token" in page_text(response)
    assert services.token_for_secret(dbsession, secret) is not None


def test_token_pages_need_a_login(testapp):
    assert testapp.get("/account/").status_int == 303
    token = csrf_token(testapp.get("/account/login/"))
    response = testapp.post("/account/tokens/", {"csrf_token": token, "description": "x"})
    assert response.status_int == 303
    assert "/account/login/" in response.location


def test_profile_lists_the_users_projects(testapp, publisher, two_packages):
    page = testapp.get("/user/publisher/")
    assert page.html.select_one(".profile-name").get_text(strip=True) == "Pub Lisher"
    names = [
        a.select_one(".package-snippet-name").get_text()
        for a in page.html.select(".package-snippet")
    ]
    assert names == [two_packages[0].name, two_packages[1].name]
    assert "2 projects" in page_text(page)


def test_profile_url_is_case_normalised(testapp, publisher):
    response = testapp.get("/user/PUBLISHER/")
    assert response.status_int == 301
    assert response.location == "http://localhost/user/publisher/"


@pytest.mark.parametrize("username", ["nobody-at-all", "x" * 300, "%E2%98%83", "a.b"])
def test_unknown_profile_is_404(testapp, username):
    response = testapp.get(f"/user/{username}/", status=404)
    assert "There is no user named" in page_text(response)


def test_inactive_users_have_no_profile(testapp, make_user):
    make_user("gone").is_active = False
    testapp.get("/user/gone/", status=404)


def test_user_supplied_text_is_escaped(testapp, make_user):
    make_user("escaper", display_name='<script>alert("x")</script><b>bold</b>')
    log_in(testapp, "escaper")
    for path in ("/user/escaper/", "/account/"):
        page = testapp.get(path)
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert" in page.text
        assert page.html.find("b", string="bold") is None
    page = testapp.get("/account/")
    response = testapp.post(
        "/account/tokens/",
        {"csrf_token": csrf_token(page), "description": '"><img src=x onerror=alert(1)>'},
    )
    assert "<img src=x" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text
