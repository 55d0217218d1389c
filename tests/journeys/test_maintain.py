"""Journey 3, maintain: add a maintainer, who uploads; yank it with a reason; unyank it.

The owner works in the browser (the manage page); the maintainer uploads with
twine and a token of their own. After the yank the project page marks the
release, /simple/ carries the reason (HTML and JSON), pip and uv install the
previous version unless the yanked one is pinned; unyanking restores it.
"""

from __future__ import annotations

import json

import pytest

from .conftest import create_token, register, twine_upload, visit

NAME = "journey-maintain"
V1_JSON = "application/vnd.pypi.simple.v1+json"
REASON = "broken build: imports fail on Windows"

pytestmark = pytest.mark.slow


def yanked_in_simple(server) -> dict[str, object]:
    """filename -> the JSON 'yanked' value; and the HTML page's data-yanked must agree."""
    status, _, body = server.get(f"/simple/{NAME}/", accept=V1_JSON)
    assert status == 200
    files = {f["filename"]: f["yanked"] for f in json.loads(body)["files"]}
    status, _, html = server.get(f"/simple/{NAME}/", accept="text/html")
    assert status == 200
    for filename, yanked in files.items():
        marker = f'data-yanked="{REASON}"'.encode()
        line = next(line for line in html.splitlines() if filename.encode() in line)
        assert (marker in line) == bool(yanked), line
    return files


def check_installs(server, pip_venv, uv_venv, expected: str, *, pinned: bool = False) -> None:
    """pip and uv install ``expected``; with ``pinned``, ``==2.0`` installs 2.0 all the same."""
    pip_venv.pip(server, "install", "--force-reinstall", NAME)
    assert pip_venv.imported("journey_maintain") == f"{NAME} {expected}"
    uv_venv.uv(server, "install", "--reinstall", NAME)
    assert uv_venv.imported("journey_maintain") == f"{NAME} {expected}"
    if not pinned:
        return
    result = pip_venv.pip(server, "install", "--force-reinstall", f"{NAME}==2.0")
    assert pip_venv.imported("journey_maintain") == f"{NAME} 2.0"
    # pip warns that the release it installed is yanked, and why.
    assert REASON in result.stdout + result.stderr
    uv_venv.uv(server, "install", "--reinstall", f"{NAME}==2.0")
    assert uv_venv.imported("journey_maintain") == f"{NAME} 2.0"


def test_maintainer_uploads_owner_yanks_and_unyanks(
    site_page, journey_server, journey_dists, client_env, pip_venv, uv_venv, shoot
):
    page, server = site_page, journey_server
    register(page, server, "owner")
    owner_token = create_token(page, "owner upload")
    twine_upload(server, owner_token, journey_dists[(NAME, "1.0")].files, client_env)
    maintainer_token = server.user_with_token("maintainer")

    # The owner adds the maintainer on the manage page.
    manage = f"{server.site}/manage/project/{NAME}/"
    visit(page, manage, "manage page")
    page.fill("#add-username", "maintainer")
    page.select_option("#add-role", "Maintainer")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Add", exact=True).click()
    page.problems.assert_clean("manage page after adding")
    assert "maintainer is now a maintainer." in page.inner_text(".flash-success")
    assert "Maintainer" in page.locator("tr", has_text="maintainer").first.inner_text()
    shoot(page, "maintain-1-maintainer-added")

    # The maintainer publishes 2.0 with their own token.
    twine_upload(server, maintainer_token, journey_dists[(NAME, "2.0")].files, client_env)
    assert server.json(f"/pypi/{NAME}/json")["info"]["version"] == "2.0"
    check_installs(server, pip_venv, uv_venv, "2.0")

    # The owner yanks 2.0 with a reason.
    visit(page, manage, "manage page before yanking")
    row = page.locator("tr", has=page.locator(".manage-version", has_text="2.0"))
    row.locator("input[name=reason]").fill(REASON)
    with page.expect_navigation(wait_until="load"):
        row.get_by_role("button", name="Yank").click()
    assert "Release 2.0 has been yanked." in page.inner_text(".flash-success")
    assert f"Yanked: {REASON}" in row.inner_text()
    shoot(page, "maintain-2-yanked")

    visit(page, f"{server.site}/project/{NAME}/", "project page after the yank")
    # The latest version shown is 1.0; 2.0 is marked yanked, with its reason.
    assert page.locator("h1.package-title .package-version").inner_text() == "1.0"
    yanked = page.locator(".release-timeline li.release-yanked")
    assert yanked.locator(".release-version").inner_text() == "2.0"
    assert REASON in yanked.locator(".yanked-reason").inner_text()
    visit(page, f"{server.site}/project/{NAME}/2.0/", "yanked release page")
    assert "This release has been yanked." in page.inner_text(".notice-danger")
    assert REASON in page.inner_text(".notice-danger")
    shoot(page, "maintain-3-yanked-release")

    files = yanked_in_simple(server)
    assert {f: y for f, y in files.items() if "-2.0" in f} == dict.fromkeys(
        [f for f in files if "-2.0" in f], REASON
    )
    assert not any(y for f, y in files.items() if "-1.0" in f)
    check_installs(server, pip_venv, uv_venv, "1.0", pinned=True)

    # Unyanking restores it.
    visit(page, manage, "manage page before unyanking")
    row = page.locator("tr", has=page.locator(".manage-version", has_text="2.0"))
    with page.expect_navigation(wait_until="load"):
        row.get_by_role("button", name="Un-yank").click()
    assert "Release 2.0 is no longer yanked." in page.inner_text(".flash-success")
    shoot(page, "maintain-4-unyanked")
    visit(page, f"{server.site}/project/{NAME}/", "project page after the unyank")
    assert page.locator("h1.package-title .package-version").inner_text() == "2.0"
    assert page.locator(".release-timeline li.release-yanked").count() == 0
    assert not any(yanked_in_simple(server).values())
    check_installs(server, pip_venv, uv_venv, "2.0")
