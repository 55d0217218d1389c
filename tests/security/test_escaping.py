"""Untrusted text from packages and users is escaped; descriptions are sanitised HTML."""

from __future__ import annotations

import datetime

import pytest

from pypi_web.models import Package

from .. import factories

ATTACK = '<script>alert("pwned")</script><img src=x onerror="alert(1)">'

MARKDOWN = f"""# Title

{ATTACK}

[click](javascript:alert(1)) <a href="javascript:alert(2)">raw link</a>
<iframe src="https://evil.example/"></iframe><style>body {{display:none}}</style>
<div onclick="alert(3)" style="position:fixed">styled</div>

![badge](https://img.example.org/badge.svg)
"""

RST = """Title
=====

.. raw:: html

   <script>alert("raw")</script>

`link <javascript:alert(4)>`_
"""


@pytest.fixture
def hostile_package(dbsession):
    def make(name: str, description: str, content_type: str | None) -> Package:
        package = factories.project(
            dbsession,
            name,
            summary=ATTACK,
            author=ATTACK,
            description=description,
            description_content_type=content_type,
            homepage_url="javascript:alert(5)",
            project_urls={ATTACK: "javascript:alert(6)", "Docs": "https://docs.example.org/"},
        )
        factories.release(
            dbsession,
            package,
            "1.0",
            summary=ATTACK,
            description=description,
            description_content_type=content_type,
            created=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        )
        dbsession.flush()
        return package

    return make


def assert_nothing_executable(html, raw: str):
    assert html.find("script", src=False) is None
    assert html.find(["iframe", "object", "embed", "style"]) is None
    for element in html.find_all(True):
        for attribute, value in element.attrs.items():
            assert not attribute.lower().startswith("on"), element
            if attribute in ("href", "src", "action"):
                assert not str(value).strip().lower().startswith("javascript:"), element
        if element.has_attr("style"):
            raise AssertionError(f"inline style survived: {element}")
    assert 'alert("pwned")</script>' not in raw


@pytest.mark.parametrize(
    ("description", "content_type"),
    [(MARKDOWN, "text/markdown"), (RST, "text/x-rst"), (RST, None), (ATTACK, "text/plain")],
)
def test_project_and_release_pages_neutralise_hostile_metadata(
    testapp, hostile_package, description, content_type
):
    hostile_package("hostile-pkg", description, content_type)
    for path in ("/project/hostile-pkg/", "/project/hostile-pkg/1.0/"):
        response = testapp.get(path)
        assert_nothing_executable(response.html, response.text)
        # The summary is shown as text, escaped, not dropped.
        assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in response.text or (
            "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in response.text
        )


def test_description_images_stay_as_plain_https_images(testapp, hostile_package):
    hostile_package("badge-pkg", MARKDOWN, "text/markdown")
    html = testapp.get("/project/badge-pkg/").html
    images = [img["src"] for img in html.select(".project-description img")]
    assert "https://img.example.org/badge.svg" in images


def test_search_echoes_the_query_escaped(testapp):
    response = testapp.get("/search/", {"q": ATTACK}, expect_errors=True)
    assert response.status_int < 500
    assert_nothing_executable(response.html, response.text)


def test_a_hostile_next_parameter_is_escaped_in_the_login_form(testapp):
    response = testapp.get("/account/login/", {"next": '/"><script>alert(1)</script>'})
    assert_nothing_executable(response.html, response.text)


def test_description_images_over_http_are_asked_for_over_https(testapp, hostile_package):
    """The CSP allows https images only; http badges would be blocked (and mixed content)."""
    description = (
        "Badges\n\n![ci](http://img.example.org/ci.svg) ![x](https://img.example.org/x.svg)"
    )
    hostile_package("http-badges", description, "text/markdown")
    html = testapp.get("/project/http-badges/").html
    images = [img["src"] for img in html.select(".project-description img")]
    assert images == ["https://img.example.org/ci.svg", "https://img.example.org/x.svg"]
