"""The project and release pages, against the imported top-100 data."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pypi_web.models import Classifier, Package, Release, Role, User

from .. import factories

FLASK_WHEEL_SHA256 = "a080b744b7e345ccfcbc77954861cb05b3c63786e93f2b3875e0913d44b43f05"
FLASK_012_SDIST_SHA256 = "93e803cdbe326a61ebd5c5d353959397c85f829bec610d59cb635c9f97d7ca8b"


def history(res) -> list[str]:
    return [a.get_text() for a in res.html.select(".release-timeline .release-version")]


def history_item(res, version: str):
    for item in res.html.select(".release-timeline li"):
        if item.select_one(".release-version").get_text() == version:
            return item
    raise AssertionError(f"{version} is not in the release history")


def badges(item) -> set[str]:
    return {b.get_text() for b in item.select(".badge")}


def sidebar(res) -> str:
    return res.html.select_one(".package-sidebar").get_text(" ", strip=True)


def meta(res) -> dict[str, str]:
    """The sidebar's Meta entries: {"License": "BSD License", ...}."""
    return {
        item.find("dt").get_text(): item.find("dd").get_text(" ", strip=True)
        for item in res.html.select(".meta-list > div")
    }


def test_project_page_shows_latest_release(testapp):
    res = testapp.get("/project/flask/", status=200)
    assert res.html.select_one("h1.package-title").get_text(" ", strip=True) == "Flask 1.0.2"
    assert res.html.select_one(".pip-command code").get_text() == "pip install Flask"
    assert "A simple framework for building complex web applications." in res.text
    assert res.html.select_one(".badge-latest") is not None
    released = res.html.select_one(".package-header-status time")
    assert released["datetime"] == "2018-05-02T14:26:26+00:00"
    assert released.get_text() == "May 2, 2018"


def test_project_page_lists_every_release_newest_first(testapp):
    versions = history(testapp.get("/project/flask/"))
    assert len(versions) == 28
    # PEP 440 order, not string or upload order: 0.12.4 was uploaded after
    # 1.0, and "0.10" sorts above "0.9".
    assert versions[:5] == ["1.0.2", "1.0.1", "1.0", "0.12.4", "0.12.3"]
    assert versions.index("0.10") < versions.index("0.9")
    assert versions[-1] == "0.1"


def test_prerelease_is_marked_and_is_not_latest(testapp):
    res = testapp.get("/project/django/", status=200)
    versions = history(res)
    # 2.1a1 is the newest release, but the page shows the newest final one.
    assert versions[0] == "2.1a1"
    assert res.html.select_one("h1.package-title").get_text(" ", strip=True) == "Django 2.0.5"
    assert "pre-release" in badges(history_item(res, "2.1a1"))
    assert "pre-release" not in badges(history_item(res, "2.0.5"))


def test_files_of_latest_release_with_size_and_sha256(testapp):
    res = testapp.get("/project/flask/")
    files = {f.select_one(".file-name").get_text(): f for f in res.html.select(".file-list .file")}
    assert sorted(files) == ["Flask-1.0.2-py2.py3-none-any.whl", "Flask-1.0.2.tar.gz"]
    # The sdist comes first, as on pypi.org.
    assert res.html.select_one(".file-list .file .file-name").get_text() == "Flask-1.0.2.tar.gz"
    headings = [h.get_text() for h in res.html.select("#files h3")]
    assert headings == ["Source distribution", "Built distributions"]
    wheel = files["Flask-1.0.2-py2.py3-none-any.whl"]
    meta = wheel.select_one(".file-meta").get_text(" ", strip=True)
    assert FLASK_WHEEL_SHA256 in meta
    assert "91.4 kB" in meta
    assert "Wheel" in meta and "py2.py3" in meta
    assert wheel.select_one(".file-name")["href"].startswith("https://files.pythonhosted.org/")
    assert "644.5 kB" in files["Flask-1.0.2.tar.gz"].get_text()


def test_sidebar_license_classifiers_people_and_links(testapp):
    res = testapp.get("/project/flask/")
    assert meta(res) == {
        "License": "BSD License",
        "Author": "Armin Ronacher",
        "Maintainer": "Pallets team",
    }
    author = res.html.find("a", href="mailto:armin.ronacher@active-4.com")
    assert author is not None and author.get_text() == "Armin Ronacher"
    homepage = res.html.select_one(
        ".package-sidebar a[href='https://www.palletsprojects.com/p/flask/']"
    )
    assert homepage is not None and homepage.get_text() == "Homepage"
    tops = [dt.get_text() for dt in res.html.select(".classifier-tree dt")]
    assert tops == sorted(tops)
    assert {"License", "Programming Language", "Topic"} <= set(tops)
    link = res.html.find("a", string="Python :: 3.6")
    assert link["href"] == "/search/?c=Programming+Language+%3A%3A+Python+%3A%3A+3.6"


def test_sidebar_lists_owners_and_maintainers(testapp, dbsession):
    flask = dbsession.scalars(select(Package).where(Package.normalized_name == "flask")).one()
    for username, role in (("zed", "Owner"), ("amy", "Maintainer")):
        user = User(username=username, username_lower=username)
        dbsession.add(Role(user=user, package=flask, role_name=role))
    dbsession.flush()
    res = testapp.get("/project/flask/")
    section = res.html.find("h2", string="Maintainers").parent
    names = [a.get_text() for a in section.select("a")]
    assert names == ["zed", "amy"]  # owners first
    assert section.select_one("a")["href"] == "/user/zed/"


def test_requires_python_in_sidebar(testapp, make_package):
    make_package("needs-new-python", requires_python=">=3.9")
    res = testapp.get("/project/needs-new-python/")
    assert meta(res)["Requires"] == "Python >=3.9"


def test_whole_license_text_is_shortened(testapp, make_package):
    text = "Copyright (c) 2020 Somebody\n\nPermission is hereby granted, free of charge, ..." * 5
    make_package("pasted-license", license=text)
    res = testapp.get("/project/pasted-license/")
    assert meta(res)["License"] == "Copyright (c) 2020 Somebody …"
    assert "Permission is hereby granted" not in sidebar(res)


def test_release_page_for_an_older_release(testapp):
    res = testapp.get("/project/flask/0.12/", status=200)
    assert res.html.select_one("h1.package-title").get_text(" ", strip=True) == "Flask 0.12"
    assert res.html.select_one(".pip-command code").get_text() == "pip install Flask==0.12"
    notice = " ".join(n.get_text(" ", strip=True) for n in res.html.select(".notice"))
    assert "This is not the latest version of Flask: the latest is 1.0.2" in notice
    assert res.html.select_one(".badge-newer")["href"] == "/project/flask/"
    assert FLASK_012_SDIST_SHA256 in res.text
    assert FLASK_WHEEL_SHA256 not in res.text
    assert "this version" in badges(history_item(res, "0.12"))


def test_release_page_of_the_latest_release(testapp):
    res = testapp.get("/project/flask/1.0.2/", status=200)
    assert res.html.select_one(".badge-latest") is not None
    assert not res.html.select(".notice")
    assert res.html.select_one(".pip-command code").get_text() == "pip install Flask==1.0.2"


def test_release_page_of_a_prerelease(testapp):
    res = testapp.get("/project/django/2.1a1/", status=200)
    notice = " ".join(n.get_text(" ", strip=True) for n in res.html.select(".notice"))
    assert "This is a pre-release." in notice
    assert "the latest is 2.0.5" in notice


def test_release_page_of_a_legacy_version(testapp):
    res = testapp.get("/project/pytz/2004d/", status=200)
    assert res.html.select_one("h1.package-title").get_text(" ", strip=True) == "pytz 2004d"


def test_yanked_release_is_marked_with_its_reason(testapp, dbsession):
    release = dbsession.scalars(
        select(Release)
        .join(Package)
        .where(Package.normalized_name == "flask")
        .where(Release.version == "1.0.2")
    ).one()
    release.yanked = True
    release.yanked_reason = "Broken metadata"
    dbsession.flush()

    res = testapp.get("/project/flask/")
    # A yanked release is never the latest while another one is not yanked.
    assert res.html.select_one("h1.package-title").get_text(" ", strip=True) == "Flask 1.0.1"
    item = history_item(res, "1.0.2")
    assert "yanked" in badges(item)
    assert "Reason: Broken metadata" in item.get_text()

    res = testapp.get("/project/flask/1.0.2/")
    notice = res.html.select_one(".notice-danger").get_text(" ", strip=True)
    assert "This release has been yanked." in notice
    assert "Reason: Broken metadata" in notice


def test_only_prereleases_falls_back_to_newest_prerelease(testapp, make_package):
    make_package("all-pre", ["1.0a1", "1.0b2", "0.9rc1"])
    res = testapp.get("/project/all-pre/")
    assert res.html.select_one("h1.package-title").get_text(" ", strip=True) == "all-pre 1.0b2"
    # pip would need --pre (or the pin) to install it.
    assert res.html.select_one(".pip-command code").get_text() == "pip install all-pre==1.0b2"


def test_everything_yanked_falls_back_to_newest_release(testapp, make_package):
    make_package("all-yanked", ["1.0", "2.0"], yanked={"1.0": "bad", "2.0": "worse"})
    res = testapp.get("/project/all-yanked/")
    assert res.html.select_one("h1.package-title").get_text(" ", strip=True) == "all-yanked 2.0"
    assert "This release has been yanked." in res.text


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/project/Flask/", "http://localhost/project/flask/"),
        ("/project/FLASK/", "http://localhost/project/flask/"),
        ("/project/flask", "http://localhost/project/flask/"),
        ("/project/Flask", "http://localhost/project/flask/"),
        ("/project/python_dateutil/", "http://localhost/project/python-dateutil/"),
        ("/project/Python.Dateutil/", "http://localhost/project/python-dateutil/"),
        ("/project/Flask/0.12/", "http://localhost/project/flask/0.12/"),
        ("/project/flask/0.12", "http://localhost/project/flask/0.12/"),
        ("/project/Django/2.1A1/", "http://localhost/project/django/2.1a1/"),
        ("/project/django/2.1.0a1/", "http://localhost/project/django/2.1a1/"),
    ],
)
def test_non_canonical_urls_redirect_permanently(testapp, url, location):
    res = testapp.get(url, status=301)
    assert res.headers["Location"] == location


def test_dotted_name_redirects_to_its_normalized_spelling(testapp, make_package):
    make_package("zope.interface", ["4.5.0"])
    res = testapp.get("/project/zope_interface/", status=301)
    assert res.headers["Location"] == "http://localhost/project/zope-interface/"
    res = testapp.get("/project/zope.interface/", status=301)
    assert res.headers["Location"] == "http://localhost/project/zope-interface/"
    res = testapp.get("/project/zope-interface/", status=200)
    assert res.html.select_one("h1.package-title").get_text(" ", strip=True) == (
        "zope.interface 4.5.0"
    )


@pytest.mark.parametrize(
    "url",
    ["/project/no-such-project-anywhere/", "/project/flask/99.0/", "/project/flask/0.12/x/"],
)
def test_unknown_project_or_release_is_a_404_page(testapp, url):
    res = testapp.get(url, status=404)
    assert res.html.select_one(".site-header") is not None
    assert res.html.select_one(".error-code").get_text() == "404"


def test_404_names_what_is_missing(testapp):
    res = testapp.get("/project/flask/99.0/", status=404)
    assert "The project 'Flask' has no release '99.0'." in res.text


def test_rst_description_is_rendered(testapp):
    res = testapp.get("/project/flask/")
    description = res.html.select_one(".project-description")
    # Flask's description is reStructuredText with no content type.
    assert description.find("h1").get_text() == "Flask"
    assert "=====" not in description.get_text()
    wsgi = description.find("a", string="WSGI")
    assert wsgi["href"] == "https://wsgi.readthedocs.io"
    assert description.select_one("pre.code.python") is not None


def test_rst_with_errors_is_shown_as_plain_text(testapp):
    # requests 2.18.4's description has a docutils warning ("Inline emphasis
    # start-string without end-string"): readme_renderer refuses it, and the
    # text is shown as written rather than not at all.
    description = testapp.get("/project/requests/").html.select_one(".project-description")
    assert description.find("h1") is None
    assert description.get_text().startswith("Requests: HTTP for Humans=========================")
    assert description.find("br") is not None


def test_markdown_description_is_rendered(testapp, make_package):
    make_package(
        "markdown-readme",
        description="# Usage\n\nCall **it** with `x`:\n\n```python\nimport it\n```\n",
        description_content_type="text/markdown; charset=UTF-8; variant=GFM",
    )
    description = testapp.get("/project/markdown-readme/").html.select_one(".project-description")
    assert description.find("h1").get_text() == "Usage"
    assert description.find("strong").get_text() == "it"
    assert description.find("pre") is not None


def test_plain_text_description_is_escaped_and_kept(testapp, make_package):
    make_package(
        "plain-readme", description="a < b\nline two", description_content_type="text/plain"
    )
    description = testapp.get("/project/plain-readme/").html.select_one(".project-description")
    assert description.get_text() == "a < bline two"
    assert description.find("br") is not None


def test_broken_rst_falls_back_to_plain_text(testapp, make_package):
    make_package("broken-rst", description="Title\n=====\n\n.. raw:: html\n\n   <b>raw</b>\n")
    description = testapp.get("/project/broken-rst/").html.select_one(".project-description")
    assert "Title" in description.get_text()
    assert description.find("b") is None


@pytest.mark.parametrize(
    "content_type", ["text/markdown", "text/x-rst", None, "text/plain", "text/html"]
)
def test_script_in_a_description_never_reaches_the_page(testapp, make_package, content_type):
    make_package(
        "evil-readme",
        summary='<script>alert("summary")</script>',
        description=(
            'Hello\n\n<script>alert("xss")</script>\n\n'
            '<img src="x" onerror="alert(1)">\n\n'
            "[click](javascript:alert(2))\n\n`link <javascript:alert(3)>`_\n"
        ),
        description_content_type=content_type,
        project_urls={"Evil": "javascript:alert(4)", "Docs": "https://docs.example.org/"},
    )
    res = testapp.get("/project/evil-readme/", status=200)
    assert not res.html.find("script")
    assert not res.html.select("[onerror]")
    assert "javascript:" not in " ".join(a.get("href", "") for a in res.html.find_all("a"))
    # The summary is shown as text, escaped.
    assert '&lt;script&gt;alert("summary")' in res.text or (
        "&lt;script&gt;alert(&#34;summary&#34;)" in res.text
    )
    assert res.html.find("a", href="https://docs.example.org/") is not None


def test_package_without_description(testapp, make_package):
    make_package("no-readme")
    res = testapp.get("/project/no-readme/")
    assert "has not provided a project description" in res.text


def test_project_without_releases_is_not_found(testapp, dbsession):
    factories.project(dbsession, "empty-project")
    testapp.get("/project/empty-project/", status=404)


def test_classifier_leaf_links_to_search(testapp, dbsession, make_package):
    package = make_package("classified")
    package.classifiers.append(Classifier(classifier="Framework :: Pyramid"))
    dbsession.flush()
    res = testapp.get("/project/classified/")
    assert res.html.find("a", string="Pyramid")["href"] == "/search/?c=Framework+%3A%3A+Pyramid"


@pytest.mark.parametrize(
    "url",
    [
        "/project/-bad-/",
        "/project/" + "a" * 300 + "/",
        "/project/flask/" + "1" * 500 + "/",
        "/project/fl%20ask/",
        "/project/flask%3Cscript%3E/",
    ],
)
def test_absurd_names_and_versions_are_404_without_queries(testapp, count_queries, url):
    with count_queries() as counter:
        res = testapp.get(url, status=404)
    assert [s for s in counter.statements if s != "BEGIN"] == []
    assert "a" * 150 not in res.text  # a long name is not echoed back whole
    assert res.html.find("script") is None


def test_post_to_a_page_is_not_found_without_internals(testapp):
    res = testapp.post("/project/flask/", status=404)
    assert "predicate" not in res.text.lower()
    assert "request_method" not in res.text


def test_canonical_link_and_description(testapp):
    res = testapp.get("/project/flask/")
    assert res.html.find("link", rel="canonical")["href"] == "http://localhost/project/flask/"
    descriptions = res.html.find_all("meta", attrs={"name": "description"})
    assert [m["content"] for m in descriptions] == [
        "A simple framework for building complex web applications."
    ]
    res = testapp.get("/project/flask/0.12/")
    assert res.html.find("link", rel="canonical")["href"] == "http://localhost/project/flask/0.12/"
