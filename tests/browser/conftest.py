"""The site served by waitress in a thread, for the browser tests (tests/chromium.py drives it).

The app runs against a database of its own (at head, with the top-100 data)
that it commits to, on a free loopback port.
"""

from __future__ import annotations

import threading

import pytest

from pypi_web import main
from pypi_web.models import get_engine

from ..chromium import recording_page, take_screenshots
from ..conftest import import_top100, upgrade


@pytest.fixture(scope="session")
def live_server(database_factory, top100_dir, app_settings):
    """The base URL of the app, served by waitress on 127.0.0.1."""
    from waitress.server import create_server

    url = database_factory.create("browser")
    upgrade(url)
    engine = get_engine({"sqlalchemy.url": url})
    import_top100(engine)
    engine.dispose()
    # With production's page cache: logging in and out must never show a cached page.
    app = main({}, **{**app_settings, "sqlalchemy.url": url, "page_cache.max_bytes": "16777216"})
    server = create_server(
        app, host="127.0.0.1", port=0, threads=4, clear_untrusted_proxy_headers=True
    )
    thread = threading.Thread(target=server.run, name="browser-test-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=10)
    app.registry["dbengine"].dispose()


@pytest.fixture
def browser_page(browser_context, live_server, request):
    """A fresh page on the live server that records every problem it meets."""
    with recording_page(browser_context, live_server, request.node.nodeid) as page:
        yield page


@pytest.fixture
def screenshot(backend):
    """``screenshot(page, "home")``: the page at desktop and phone widths."""
    return lambda page, name: take_screenshots(page, f"{name}-{backend}")
