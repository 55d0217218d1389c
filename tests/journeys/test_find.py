"""Journey 4, find: home, search by a word of the summary, the project, a classifier, back."""

from __future__ import annotations

import re
from urllib.parse import quote_plus

import pytest

from .conftest import twine_upload, visit

NAME = "journey-find"
PROJECT_LINK = f"main a[href='/project/{NAME}/']"

pytestmark = pytest.mark.slow


def test_find_a_project_by_a_word_and_by_its_classifier(
    site_page, journey_server, journey_dists, client_env, shoot
):
    page, server = site_page, journey_server
    built = journey_dists[(NAME, "1.0")]
    twine_upload(server, server.user_with_token("finder"), built.files, client_env)

    visit(page, server.site + "/", "home page")
    assert page.locator(PROJECT_LINK).count() >= 1, "the new release is not on the home page"
    shoot(page, "find-1-home")

    # A word of the summary, typed into the header's search box.
    page.fill("#header-q", "marmalade")
    with page.expect_navigation(wait_until="load"):
        page.press("#header-q", "Enter")
    assert re.search(r"/search/\?q=marmalade$", page.url), page.url
    page.problems.assert_clean("search results")
    result = page.locator(PROJECT_LINK)
    assert result.count() >= 1, "the project is not among the results"
    assert built.project.summary in page.inner_text("main")
    shoot(page, "find-2-search")

    with page.expect_navigation(wait_until="load"):
        result.first.click()
    assert page.url == f"{server.site}/project/{NAME}/"
    page.problems.assert_clean("project page from the results")
    assert NAME in page.locator("h1.package-title").inner_text()
    shoot(page, "find-3-project")

    # One of its classifiers, from the sidebar: every project with it, this one among them.
    with page.expect_navigation(wait_until="load"):
        page.locator(".classifier-tree a", has_text="Utilities").click()
    assert page.url.endswith("?c=" + quote_plus("Topic :: Utilities")), page.url
    page.problems.assert_clean("classifier results")
    assert page.inner_text(".search-filter-label") == "Topic :: Utilities"
    assert page.locator(PROJECT_LINK).count() >= 1
    shoot(page, "find-4-classifier")

    # Back: the project page again.
    page.go_back(wait_until="load")
    assert page.url == f"{server.site}/project/{NAME}/"
    assert NAME in page.locator("h1.package-title").inner_text()
    page.problems.assert_clean("project page after going back")
