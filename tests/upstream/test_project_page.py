"""The site's page of a cached upstream project: marked as mirrored, its files linked here."""

from __future__ import annotations

import hashlib

from ..accounts.helpers import page_text


def test_page_from_the_upstreams_json_api_marked_mirrored_linking_files_here(
    upstream_testapp, fake_upstream
):
    fake_upstream.add_wheel("mirrored-page", "1.0")
    latest = fake_upstream.add_wheel("mirrored-page", "2.0")
    fake_upstream.add_wheel("mirrored-page", "3.0", yanked="broken")
    fake_upstream.infos["mirrored-page"] = {
        "name": "Mirrored-Page",
        "version": "2.0",
        "summary": "A project the upstream describes",
        "description": "# Mirrored\n\nThe **upstream's** description.",
        "description_content_type": "text/markdown",
    }
    upstream_testapp.get("/simple/mirrored-page/")  # cached by an install

    page = upstream_testapp.get("/project/mirrored-page/")

    text = page_text(page)
    assert "Mirrored-Page 2.0" in text
    assert "A project the upstream describes" in text
    assert "This project is mirrored from an upstream index" in text
    assert fake_upstream.simple in text
    assert "<strong>upstream's</strong>" in page.text
    link = page.html.select_one("#files a.file-name")
    assert link.text == latest.filename
    assert link["href"] == f"http://localhost/mirror/mirrored-page/{latest.filename}"
    assert hashlib.sha256(latest.data).hexdigest() in text
    assert "/pypi/mirrored-page/json" in fake_upstream.requests
    # The link serves the upstream's file, checked, from here.
    assert upstream_testapp.get(link["href"]).body == latest.data


def test_without_a_json_api_the_page_comes_from_the_cached_simple_page(
    upstream_testapp, fake_upstream
):
    entry = fake_upstream.add_wheel("mirrored-plain", "1.5")
    upstream_testapp.get("/simple/mirrored-plain/")
    fake_upstream.stop()

    text = page_text(upstream_testapp.get("/project/Mirrored_Plain/").follow())

    assert "mirrored-plain 1.5" in text
    assert "The upstream's project details are not available" in text
    assert entry.filename in text


def test_a_name_not_cached_is_still_404(upstream_testapp, fake_upstream):
    fake_upstream.add_wheel("mirrored-unasked", "1.0")
    upstream_testapp.get("/project/mirrored-unasked/", status=404)
