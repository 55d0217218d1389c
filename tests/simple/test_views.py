"""The simple API over the imported top-100 data: shapes, negotiation, caching, redirects."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from pypi_web.models import JournalEntry, Package, Release
from pypi_web.packaging.journal import journal

V1_JSON = "application/vnd.pypi.simple.v1+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"
PIP_ACCEPT = f"{V1_JSON}, {V1_HTML}; q=0.1, text/html; q=0.01"
# What uv sends (pip's, above, differs only in the v1 HTML's q-value).
UV_ACCEPT = f"{V1_JSON}, {V1_HTML};q=0.2, text/html;q=0.01"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FLASK_WHEEL = "Flask-1.0.2-py2.py3-none-any.whl"
FLASK_WHEEL_SHA256 = "a080b744b7e345ccfcbc77954861cb05b3c63786e93f2b3875e0913d44b43f05"


def test_index_lists_every_project(testapp, dbsession):
    response = testapp.get("/simple/")
    assert response.content_type == "text/html"
    assert response.headers["Vary"] == "Accept"
    assert '<meta name="pypi:repository-version" content="1.1">' in response.text
    links = response.html.find_all("a")
    count = dbsession.scalar(select(func.count(Package.id)))
    assert len(links) == count > 90
    flask = next(a for a in links if a.text == "Flask")
    assert flask["href"] == "/simple/flask/"
    serial = dbsession.scalar(select(func.max(JournalEntry.id)))
    assert response.headers["X-PyPI-Last-Serial"] == str(serial)
    assert response.text.rstrip().endswith(f"<!--SERIAL {serial}-->")


def test_index_json(testapp, dbsession):
    response = testapp.get("/simple/", headers={"Accept": PIP_ACCEPT})
    assert response.content_type == V1_JSON
    data = response.json
    assert data["meta"]["api-version"] == "1.1"
    names = [p["name"] for p in data["projects"]]
    assert "Flask" in names and "requests" in names
    assert len(names) == dbsession.scalar(select(func.count(Package.id)))


def test_index_is_one_query_plus_the_serial(testapp, count_queries):
    with count_queries() as counter:
        testapp.get("/simple/", headers={"Accept": PIP_ACCEPT})
    selects = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2, counter.statements


def test_detail_html_for_flask(testapp):
    response = testapp.get("/simple/flask/")
    assert response.content_type == "text/html"
    assert "<title>Links for flask</title>" in response.text
    links = {a.text: a for a in response.html.find_all("a")}
    assert len(links) == 38
    wheel = links[FLASK_WHEEL]
    assert wheel["href"] == (
        "https://files.pythonhosted.org/packages/7f/e7/"
        "08578774ed4536d3242b14dacb4696386634607af824ea997202cd0edb4b/"
        f"{FLASK_WHEEL}#sha256={FLASK_WHEEL_SHA256}"
    )
    # Imported files have no extracted METADATA, and nothing is yanked.
    assert not wheel.has_attr("data-core-metadata")
    assert not any(a.has_attr("data-yanked") for a in links.values())


def test_detail_json_for_flask(testapp):
    response = testapp.get("/simple/flask/", headers={"Accept": PIP_ACCEPT})
    assert response.content_type == V1_JSON
    data = response.json
    assert data["meta"]["api-version"] == "1.1"
    assert data["name"] == "flask"
    assert len(data["versions"]) == 28
    assert data["versions"][0] == "0.1" and data["versions"][-1] == "1.0.2"
    assert len(data["files"]) == 38
    wheel = next(f for f in data["files"] if f["filename"] == FLASK_WHEEL)
    assert wheel["hashes"] == {"sha256": FLASK_WHEEL_SHA256}
    assert wheel["size"] == 91364
    assert wheel["yanked"] is False
    assert wheel["core-metadata"] is False
    assert wheel["upload-time"].endswith("Z")
    assert all(f["url"].startswith("https://files.pythonhosted.org/") for f in data["files"])


def test_yanked_release_and_requires_python(testapp, dbsession):
    flask = dbsession.scalars(select(Package).where(Package.normalized_name == "flask")).one()
    dbsession.execute(
        update(Release)
        .where(Release.package_id == flask.id, Release.version == "1.0.2")
        .values(yanked=True, yanked_reason='broken <on> "py3"')
    )
    dbsession.execute(
        update(Release)
        .where(Release.package_id == flask.id, Release.version == "1.0.1")
        .values(yanked=True, yanked_reason=None)
    )
    from pypi_web.models import ReleaseFile

    dbsession.execute(
        update(ReleaseFile)
        .where(ReleaseFile.filename == FLASK_WHEEL)
        .values(requires_python=">=2.7, !=3.0.*, <4")
    )
    html = testapp.get("/simple/flask/").text
    assert 'data-requires-python="&gt;=2.7, !=3.0.*, &lt;4"' in html
    assert 'data-yanked="broken &lt;on&gt; &quot;py3&quot;"' in html
    assert ">Flask-1.0.1.tar.gz</a>" in html
    assert 'data-yanked="">Flask-1.0.1.tar.gz</a>' in html
    data = testapp.get("/simple/flask/", params={"format": V1_JSON}).json
    files = {f["filename"]: f for f in data["files"]}
    assert files[FLASK_WHEEL]["yanked"] == 'broken <on> "py3"'
    assert files[FLASK_WHEEL]["requires-python"] == ">=2.7, !=3.0.*, <4"
    assert files["Flask-1.0.1.tar.gz"]["yanked"] is True


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/html"),
        ("*/*", "text/html"),
        (BROWSER_ACCEPT, "text/html"),
        (PIP_ACCEPT, V1_JSON),
        (V1_HTML, V1_HTML),
        ("application/vnd.pypi.simple.latest+json", V1_JSON),
        (UV_ACCEPT, V1_JSON),
        ("application/vnd.pypi.simple.v1+json;q=0.2, text/html;q=0.5", "text/html"),
        # A tie between named types: the most featureful wins; a wildcard still gets HTML.
        (f"text/html, {V1_HTML}, {V1_JSON}", V1_JSON),
        (f"text/html, {V1_HTML}", V1_HTML),
        (f"*/*, {V1_HTML};q=0.5", "text/html"),
        (f"{V1_JSON};q=0.5, */*;q=0.5", V1_JSON),
        ("text/*", "text/html"),
        # An Accept header that cannot be parsed is no header at all.
        ("bogus;;;===", "text/html"),
    ],
)
def test_content_negotiation(testapp, accept, expected):
    headers = {"Accept": accept} if accept else {}
    for url in ("/simple/", "/simple/flask/"):
        response = testapp.get(url, headers=headers)
        assert response.content_type == expected, url
        assert response.headers["Vary"] == "Accept"


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "application/vnd.pypi.simple.v2+json",
        "image/png",
        f"{V1_JSON};q=0, text/html;q=0",
    ],
)
def test_an_accept_header_naming_nothing_served_gets_406(testapp, accept):
    for url in ("/simple/", "/simple/flask/"):
        response = testapp.get(url, headers={"Accept": accept}, status=406)
        assert response.content_type == "text/plain"
        assert V1_JSON in response.text and "text/html" in response.text
        assert response.headers["Vary"] == "Accept"
    # ?format= still chooses for the client that asks for it explicitly.
    response = testapp.get(f"/simple/flask/?format={V1_JSON}", headers={"Accept": accept})
    assert response.content_type == V1_JSON


def test_format_parameter_overrides_accept(testapp):
    response = testapp.get(f"/simple/flask/?format={V1_JSON}", headers={"Accept": "text/html"})
    assert response.content_type == V1_JSON
    response = testapp.get(f"/simple/flask/?format={V1_HTML}", headers={"Accept": PIP_ACCEPT})
    assert response.content_type == V1_HTML
    # An unsupported format falls back to Accept.
    response = testapp.get("/simple/flask/?format=text/csv", headers={"Accept": PIP_ACCEPT})
    assert response.content_type == V1_JSON


def test_unnormalized_names_redirect(testapp):
    response = testapp.get("/simple/Flask/", status=301)
    assert response.location.endswith("/simple/flask/")
    response = testapp.get("/simple/Python_Dateutil/", params={"format": V1_JSON}, status=301)
    assert response.location.endswith(
        "/simple/python-dateutil/?format=application%2Fvnd.pypi.simple.v1%2Bjson"
    )
    response = testapp.get("/simple/flask", status=301)
    assert response.location.endswith("/simple/flask/")


def test_head_requests(testapp):
    response = testapp.head("/simple/flask/", headers={"Accept": PIP_ACCEPT})
    assert response.content_type == V1_JSON and not response.body


def test_unknown_and_invalid_names_404(testapp):
    testapp.get("/simple/no-such-project-here/", status=404)
    testapp.get("/simple/-bad-/", status=404)
    testapp.get("/simple/" + "a" * 300 + "/", status=404)


def test_etag_and_last_modified_give_304(testapp, dbsession):
    first = testapp.get("/simple/flask/")
    etag = first.headers["ETag"]
    serial = first.headers["X-PyPI-Last-Serial"]
    assert serial in etag
    again = testapp.get("/simple/flask/", headers={"If-None-Match": etag}, status=304)
    assert again.headers["ETag"] == etag and not again.body
    testapp.get(
        "/simple/flask/",
        headers={"If-Modified-Since": first.headers["Last-Modified"]},
        status=304,
    )
    # The JSON representation has its own ETag.
    as_json = testapp.get("/simple/flask/", headers={"Accept": PIP_ACCEPT, "If-None-Match": etag})
    assert as_json.status_int == 200 and as_json.headers["ETag"] != etag
    # Any change to the project moves its serial: the old ETag no longer matches.
    flask = dbsession.scalars(select(Package).where(Package.normalized_name == "flask")).one()
    journal(dbsession, flask, "yank release", version="1.0")
    dbsession.flush()
    changed = testapp.get("/simple/flask/", headers={"If-None-Match": etag})
    assert changed.status_int == 200
    assert changed.headers["ETag"] != etag
    index = testapp.get("/simple/")
    testapp.get("/simple/", headers={"If-None-Match": index.headers["ETag"]}, status=304)
