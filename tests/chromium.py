"""Debian's Chromium driven by Playwright: one browser per test session, pages that record.

Chromium runs headless with a fresh profile; every request that does not go
to the page's own server is answered locally (an empty image for images,
refused otherwise), so tests use nothing but loopback.

Each page records console errors, uncaught exceptions, failed same-origin
requests and Content-Security-Policy violations (``securitypolicyviolation``
events, reported through a binding installed before any page script runs).
Used by tests/browser/ and tests/journeys/.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("PYPI_WEB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces with the request routing below: no name resolves but loopback.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
MAX_SHOT_HEIGHT = 2400
# A 1x1 transparent PNG, served for images from other sites (README badges).
EMPTY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)

VIOLATION_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} on ${event.documentURI}`
  );
});
"""


@dataclass
class PageProblems:
    console_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    checked: int = 0

    def clear(self) -> None:
        self.console_errors.clear()
        self.csp_violations.clear()
        self.failed_requests.clear()

    def assert_clean(self, where: str) -> None:
        problems = self.console_errors + self.csp_violations + self.failed_requests
        assert not problems, f"{where}: {problems}"
        self.checked += 1


@pytest.fixture(scope="session")
def playwright_api():
    from .conftest import skip_or_fail

    if not CHROMIUM.exists():
        skip_or_fail(
            f"Chromium is not installed at {CHROMIUM} "
            "(apt-get install -y chromium chromium-driver; .ci/run does it in CI)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="session")
def browser_context(playwright_api, tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    context = playwright_api.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=DESKTOP,
        # The journeys' TLS-terminating proxy has a certificate made for the test run.
        ignore_https_errors=True,
    )
    yield context
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


@contextlib.contextmanager
def recording_page(context, origin_url: str, test_id: str) -> Iterator:
    """A fresh page (no cookies) on ``origin_url`` that records every problem it meets.

    Requests to other origins never leave the machine: images get an empty
    PNG, anything else is refused. What the page saw is appended to
    test-artifacts/browser-log.jsonl.
    """
    context.clear_cookies()
    problems = PageProblems()
    origin = urlsplit(origin_url).netloc

    def route(route_request):
        request = route_request.request
        if urlsplit(request.url).netloc == origin:
            route_request.continue_()
            return
        problems.external_requests.append(request.url)
        if request.resource_type == "image":
            route_request.fulfill(status=200, content_type="image/png", body=EMPTY_PNG)
        else:
            route_request.abort("blockedbyclient")

    page = context.new_page()
    page.route("**/*", route)
    page.expose_binding(
        "reportCspViolation", lambda source, text: problems.csp_violations.append(text)
    )
    page.add_init_script(VIOLATION_LISTENER)
    page.on(
        "console",
        lambda message: (
            problems.console_errors.append(f"{message.text} ({message.location.get('url')})")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.console_errors.append(f"uncaught: {error}"))
    page.on(
        "response",
        lambda response: (
            problems.failed_requests.append(f"{response.status} {response.url}")
            if response.status >= 400 and urlsplit(response.url).netloc == origin
            else None
        ),
    )
    page.problems = problems
    visited: list[str] = []
    page.on(
        "framenavigated",
        lambda frame: visited.append(frame.url) if frame == page.main_frame else None,
    )
    try:
        yield page
    finally:
        page.close()
        SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
        with (SCREENSHOTS.parent / "browser-log.jsonl").open("a", encoding="utf-8") as log:
            record = {"test": test_id, "pages": visited, **asdict(problems)}
            log.write(json.dumps(record) + "\n")


def take_screenshots(page, name: str) -> list[Path]:
    """The page at desktop and phone widths: test-artifacts/screenshots/NAME-{desktop,phone}.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}-{label}.png"
        # The top of the page, up to a few screens: long descriptions
        # (requests' is 47,000 px) would make the image unreadable.
        height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_SHOT_HEIGHT)
        clip = {"x": 0, "y": 0, "width": size["width"], "height": height}
        page.screenshot(path=str(path), full_page=True, clip=clip)
        paths.append(path)
    page.set_viewport_size(DESKTOP)
    return paths
