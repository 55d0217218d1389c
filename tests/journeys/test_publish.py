"""Journey 1, publish: register, make a token, twine upload, look at the pages, install.

Asserted at each step: the page's status and what it shows (the account, the
token, the rendered description, each file with its size and hash, the
license expression), that each file link downloads the very bytes uploaded,
and that pip and uv install the project from /simple/ and it imports.
"""

from __future__ import annotations

import hashlib

import pytest

from pypi_web.packaging.rendering import human_size

from .conftest import create_token, register, twine_upload, visit

PROJECT = ("journey-publish", "1.0")

pytestmark = pytest.mark.slow


def check_project_page(page, server, built, where: str) -> None:
    project = built.project
    assert project.name in page.locator("h1.package-title").inner_text()
    assert page.locator("h1.package-title .package-version").inner_text() == project.version
    description = page.locator(".project-description")
    # The README's Markdown, rendered: a heading, bold text, a code block.
    assert description.locator("h2").first.inner_text() == "Usage"
    assert description.locator("strong").first.inner_text() == "journey tests"
    assert f"import {project.module}" in description.locator("pre").inner_text()
    assert page.locator(".license-expression").inner_text() == "MIT"
    files = page.locator("#files li.file")
    assert files.count() == 2, where
    for local in built.files:
        entry = page.locator("#files li.file").filter(has_text=local.name)
        assert entry.count() == 1, (where, local.name)
        sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
        assert entry.locator(".file-hash code").inner_text() == sha256
        assert human_size(local.stat().st_size) in entry.locator(".file-meta").inner_text()
        # The link downloads exactly the uploaded bytes (through the browser's own session).
        href = entry.locator("a.file-name").get_attribute("href")
        download = page.context.request.get(page.url.split("/project/")[0] + href)
        assert download.status == 200, (where, href)
        assert hashlib.sha256(download.body()).hexdigest() == sha256, (where, href)


def test_publish_then_look_then_install(
    site_page, journey_server, journey_dists, client_env, pip_venv, uv_venv, shoot, client_versions
):
    page, server = site_page, journey_server
    built = journey_dists[PROJECT]

    register(page, server, "publisher")
    cookies = page.context.cookies(server.site)
    assert cookies, "registering did not log the new user in"
    if server.config == "production":
        # Behind the proxy the site is https: its session cookie is Secure.
        assert all(cookie["secure"] for cookie in cookies), cookies
    shoot(page, "publish-1-registered")
    token = create_token(page, "journey upload")
    shoot(page, "publish-2-token")
    visit(page, server.site + "/account/", "account page")
    assert "journey upload" in page.inner_text(".token-table")
    assert token not in page.content()

    result = twine_upload(server, token, built.files, client_env)
    assert "View at:" in result.stdout or result.returncode == 0

    visit(page, server.site + "/project/journey-publish/", "project page")
    check_project_page(page, server, built, "project page")
    shoot(page, "publish-3-project")
    visit(page, server.site + "/project/journey-publish/1.0/", "release page")
    check_project_page(page, server, built, "release page")
    shoot(page, "publish-4-release")
    # The account page now lists the project.
    visit(page, server.site + "/account/", "account page after the upload")
    assert page.get_by_role("link", name="journey-publish").count() == 1

    pip_venv.pip(server, "install", "journey-publish")
    assert pip_venv.imported("journey_publish") == "journey-publish 1.0"
    uv_venv.uv(server, "install", "journey-publish")
    assert uv_venv.imported("journey_publish") == "journey-publish 1.0"
