"""Journey: a team installs pypi.org's projects through its own index, and keeps installing
when pypi.org is away.

The upstream is a PEP 691 index on loopback (tests/upstream/fake_index.py).
production.ini takes it from PYPI_WEB_UPSTREAMS (its cache fresh for ten
minutes, so the second install is served from the cache without asking);
development.ini states it with a TTL of 0 (every page revalidated, so the
second install is served stale, the upstream being down).
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import pytest

from ..chromium import recording_page, take_screenshots
from ..upstream.fake_index import FakeIndex
from .conftest import BIN, CONFIGS, run, serving, tool, twine_upload, visit

NAME = "journey-upstream"
PRIVATE = "journey-private"
PREFETCHED = "journey-prefetched"

pytestmark = pytest.mark.slow


@pytest.fixture(params=CONFIGS)
def proxied(request, backend, database_factory, tmp_path_factory):
    """(a server with the fake index as its upstream, that index), fresh for each test."""
    from ..conftest import upgrade

    upstream = FakeIndex().start()
    upstream.add_wheel(NAME, "1.0")
    upstream.add_wheel(NAME, "2.0", yanked="do not use")
    # The public twin of a private project (test_a_private_name_...).
    upstream.add_wheel(PRIVATE, "9.0")
    root = tmp_path_factory.mktemp(f"journeys-upstream-{request.param}-{backend}")
    db_url = database_factory.create(f"upstream_{request.param}")
    upgrade(db_url)
    if request.param == "production":
        settings = {"PYPI_WEB_UPSTREAMS": upstream.simple}
    else:
        settings = {"pypi_web.upstreams": upstream.simple, "upstream.ttl_seconds": "0"}
    with serving(request.param, backend, root, db_url, settings) as server:
        yield server, upstream
    upstream.stop()


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_install_through_the_proxy_then_again_with_the_upstream_down(
    proxied, installer, request, tmp_path, client_env
):
    server, upstream = proxied
    first = request.getfixturevalue(f"{installer}_venv")
    getattr(first, installer)(server, "install", NAME)
    # The yanked 2.0 is passed over, as on pypi.org.
    assert first.imported("journey_upstream") == f"{NAME} 1.0"
    assert "/files/journey_upstream-1.0-py3-none-any.whl" in upstream.requests

    upstream.stop()
    status, _, body = server.get(f"/simple/{NAME}/")
    assert status == 200, body
    again = type(first)(tmp_path / f"{installer}-again" / "bin" / "python", client_env)
    _make_venv(installer, tmp_path / f"{installer}-again", client_env)
    extra = ("--no-cache",) if installer == "uv" else ()
    getattr(again, installer)(server, "install", *extra, NAME)
    assert again.imported("journey_upstream") == f"{NAME} 1.0"


def _make_venv(installer: str, path, env) -> None:
    if installer == "pip":
        run([sys.executable, "-m", "venv", "--without-pip", path])
    else:
        run([tool("uv"), "venv", "--python", sys.executable, path], env=env)


def test_a_private_name_with_a_public_twin_installs_the_private_version(
    proxied, journey_dists, pip_venv, client_env
):
    server, upstream = proxied
    token = server.user_with_token("private-owner")
    twine_upload(server, token, journey_dists[(PRIVATE, "1.0")].files, client_env)

    pip_venv.pip(server, "install", PRIVATE)

    # The upstream's 9.0 would win any merge; the private 1.0 is what is installed.
    assert pip_venv.imported("journey_private") == f"{PRIVATE} 1.0"
    assert not any(path.startswith(f"/simple/{PRIVATE}/") for path in upstream.requests)


def test_prefetch_a_requirements_file_then_install_with_the_upstream_stopped(
    proxied, pip_venv, tmp_path
):
    server, upstream = proxied
    upstream.add_wheel(PREFETCHED, "1.0")
    upstream.add_wheel(PREFETCHED, "2.0")
    listed = tmp_path / "requirements.txt"
    listed.write_text(f"# for the offline build\n{NAME}==1.0\n{PREFETCHED}\n")

    prefetch = run([BIN / "pypi-web-upstream", "prefetch", server.ini, listed], env=server.env)

    # Not a terminal: one plain line a project (each wheel and its PEP 658 metadata).
    assert prefetch.stdout.splitlines() == [
        f"[1/2] {NAME}==1.0: 2 file(s) ready, ok",
        f"[2/2] {PREFETCHED}: 2 file(s) ready, ok",
    ]
    upstream.stop()
    pip_venv.pip(server, "install", NAME, PREFETCHED)
    assert pip_venv.imported("journey_upstream") == f"{NAME} 1.0"
    assert pip_venv.imported("journey_prefetched") == f"{PREFETCHED} 2.0"


def test_a_visitor_sees_a_cached_upstream_project_marked_mirrored(
    proxied, pip_venv, browser_context, request
):
    server, upstream = proxied
    upstream.infos[NAME] = {"name": NAME, "summary": "Installed through the proxy"}
    pip_venv.pip(server, "install", NAME)  # the team's install caches it

    with recording_page(browser_context, server.site, request.node.nodeid) as page:
        visit(page, f"{server.site}/project/{NAME}/", "mirrored project page")
        assert "This project is mirrored from an upstream index" in page.inner_text("main")
        assert "Installed through the proxy" in page.inner_text("main")
        link = page.locator("#files a.file-name")
        assert link.inner_text() == "journey_upstream-1.0-py3-none-any.whl"
        href = link.get_attribute("href")
        take_screenshots(page, f"journey-upstream-mirrored-{server.config}-{server.backend}")
    assert href.endswith(f"/mirror/{NAME}/journey_upstream-1.0-py3-none-any.whl"), href
    status, _, body = server.get(urlsplit(href).path)
    assert status == 200 and body == upstream.file("journey_upstream-1.0-py3-none-any.whl")
