"""Descriptions to safe HTML, and the display helpers."""

from __future__ import annotations

import datetime

import pytest
from bs4 import BeautifulSoup

from pypi_web.packaging.rendering import (
    human_size,
    iso,
    parse_content_type,
    render_description,
    short_date,
)


def test_parse_content_type():
    assert parse_content_type("text/markdown; charset=UTF-8; variant=CommonMark") == (
        "text/markdown",
        {"charset": "UTF-8", "variant": "CommonMark"},
    )
    assert parse_content_type("TEXT/X-RST") == ("text/x-rst", {})
    assert parse_content_type(None) == ("", {})
    assert parse_content_type("  ") == ("", {})


def test_markdown():
    html = BeautifulSoup(
        render_description("# Title\n\nSome *emphasis*.", "text/markdown"), "html.parser"
    )
    assert html.find("h1").get_text() == "Title"
    assert html.find("em").get_text() == "emphasis"


def test_markdown_commonmark_variant_and_unknown_variant():
    for variant in ("CommonMark", "nonsense"):
        html = render_description("**x**", f"text/markdown; variant={variant}")
        assert "<strong>x</strong>" in html


def test_rst_is_the_default_when_no_content_type():
    raw = "Title\n=====\n\nA paragraph with ``code``."
    for content_type in (None, "", "text/x-rst; charset=UTF-8"):
        html = BeautifulSoup(render_description(raw, content_type), "html.parser")
        assert html.find("h1").get_text() == "Title"
        assert html.select_one("span.literal").get_text() == "code"


def test_rst_that_fails_falls_back_to_plain_text():
    html = render_description("Intro\n\n.. raw:: html\n\n   <iframe src=x></iframe>\n", None)
    assert "<iframe" not in html
    assert "Intro" in html
    assert "&lt;iframe" in html  # shown as text, not markup


def test_plain_text_and_unknown_types_are_text():
    for content_type in ("text/plain", "text/html", "application/x-whatever"):
        html = render_description("<b>bold</b>\nnext", content_type)
        assert html == "&lt;b&gt;bold&lt;/b&gt;<br>next"


@pytest.mark.parametrize("content_type", [None, "text/markdown", "text/plain", "text/x-rst"])
def test_scripts_and_handlers_are_removed(content_type):
    raw = (
        'Hi\n\n<script>alert(1)</script>\n\n<a href="javascript:alert(2)" onclick="x()">a</a>'
        "\n\n[md](javascript:alert(3))\n"
    )
    html = BeautifulSoup(render_description(raw, content_type), "html.parser")
    assert html.find("script") is None
    assert not html.select("[onclick]")
    assert not [a for a in html.find_all("a") if "javascript" in a.get("href", "")]
    assert "Hi" in html.get_text()


def test_nothing_to_render():
    assert render_description(None, "text/markdown") is None
    assert render_description("   \n", None) is None


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (999, "999 bytes"),
        (1000, "1.0 kB"),
        (91364, "91.4 kB"),
        (644534, "644.5 kB"),
        (12_345_678, "12.3 MB"),
        (5_000_000_000_000, "5000.0 GB"),
    ],
)
def test_human_size(size, text):
    assert human_size(size) == text


def test_dates():
    moment = datetime.datetime(2010, 4, 16, 14, 29, 37, tzinfo=datetime.UTC)
    assert short_date(moment) == "Apr 16, 2010"
    assert iso(moment) == "2010-04-16T14:29:37+00:00"
    # Any zone is shown in UTC in the machine-readable form.
    other = moment.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    assert iso(other) == "2010-04-16T14:29:37+00:00"
