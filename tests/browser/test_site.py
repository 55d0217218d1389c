"""End to end in Chromium: browse, search, open a project; register, log in, make a token.

Every page must load with no console errors, no CSP violations and no failed
request to the site itself.
"""

from __future__ import annotations

import re


def visit(page, url: str, where: str):
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, (
        f"{where}: {response and response.status}"
    )
    page.problems.assert_clean(where)
    return response


def test_home_page(browser_page, live_server, screenshot):
    page = browser_page
    visit(page, live_server + "/", "home page")
    assert page.title().endswith("pypi_web")
    assert page.locator("h1").first.is_visible()
    assert page.locator("main a[href^='/project/']").count() > 0
    screenshot(page, "home")


def test_project_page(browser_page, live_server, screenshot):
    page = browser_page
    visit(page, live_server + "/project/requests/", "project page")
    assert "requests" in page.locator("h1").first.inner_text()
    assert page.locator(".project-description").count() == 1
    screenshot(page, "project")


def test_project_page_with_badge_images(browser_page, live_server):
    """pytest's description shows badges from other sites (some written as http://)."""
    page = browser_page
    visit(page, live_server + "/project/pytest/", "project page with images")
    images = page.locator(".project-description img")
    assert images.count() >= 5
    external = page.problems.external_requests
    assert external, "the badges were not requested"
    # Asked for over https only (the CSP allows nothing else), and answered
    # locally by the test's router: nothing left the machine.
    assert all(url.startswith("https://") for url in external), external


def test_search_and_open_a_project(browser_page, live_server, screenshot):
    page = browser_page
    visit(page, live_server + "/", "home page")
    # Search from the header box, as a visitor would.
    page.fill("#header-q", "requests")
    with page.expect_navigation(wait_until="load"):
        page.press("#header-q", "Enter")
    assert re.search(r"/search/\?q=requests$", page.url), page.url
    page.problems.assert_clean("search results")
    result = page.locator("main a[href='/project/requests/']")
    assert result.count() > 0, "'requests' is not among the results for 'requests'"
    screenshot(page, "search")

    with page.expect_navigation(wait_until="load"):
        result.first.click()
    assert page.url == live_server + "/project/requests/"
    page.problems.assert_clean("project page opened from the results")
    assert "requests" in page.locator("h1").first.inner_text()


def test_register_log_in_create_a_token_and_log_out(browser_page, live_server, screenshot):
    page = browser_page
    visit(page, live_server + "/", "home page")
    page.get_by_role("link", name="Register").click()
    page.wait_for_load_state("load")
    page.problems.assert_clean("register page")
    screenshot(page, "register")

    page.fill("#username", "browser-user")
    page.fill("#display_name", "Browser User")
    page.fill("#email", "browser-user@example.org")
    page.fill("#password", "a long browser passphrase")
    page.fill("#password_confirm", "a long browser passphrase")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Create account").click()
    assert page.url == live_server + "/account/"
    page.problems.assert_clean("account page after registering")
    assert "Welcome, browser-user!" in page.inner_text("main")

    # Log out from the header, then log back in.
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Log out").click()
    assert page.url == live_server + "/"
    page.problems.assert_clean("home page after logging out")
    page.get_by_role("link", name="Log in").click()
    page.wait_for_load_state("load")
    page.fill("#username", "browser-user")
    page.fill("#password", "a long browser passphrase")
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Log in").click()
    assert page.url == live_server + "/account/"
    page.problems.assert_clean("account page after logging in")
    assert page.locator(".nav-account").inner_text() == "browser-user"

    # Create an API token: the secret is shown once.
    page.fill("#token-description", "browser test token")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Create token").click()
    page.problems.assert_clean("new token page")
    secret = page.inner_text("#token-secret")
    assert re.fullmatch(r"pypi-[A-Za-z0-9_-]{40,}", secret), secret
    screenshot(page, "account-new-token")
    visit(page, live_server + "/account/", "account page")
    assert secret not in page.content()
    assert "browser test token" in page.inner_text(".token-table")

    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Log out").click()
    page.problems.assert_clean("home page after the last log out")
    assert page.get_by_role("link", name="Log in").is_visible()
    visit(page, live_server + "/account/login/", "login page")


def test_a_wrong_password_shows_the_message(browser_page, live_server):
    page = browser_page
    visit(page, live_server + "/account/login/", "login page")
    page.fill("#username", "nobody-with-this-name")
    page.fill("#password", "wrong password")
    page.locator("main").get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")
    assert page.inner_text(".form-summary") == "The username or password is not correct."
    assert not page.problems.csp_violations
