"""``/pypi/<name>/json`` and ``/pypi/<name>/<version>/json`` over the top-100 data and uploads."""

from __future__ import annotations

INFO_KEYS = {
    "author",
    "author_email",
    "bugtrack_url",
    "classifiers",
    "description",
    "description_content_type",
    "docs_url",
    "download_url",
    "downloads",
    "dynamic",
    "home_page",
    "keywords",
    "license",
    "license_expression",
    "license_files",
    "maintainer",
    "maintainer_email",
    "name",
    "package_url",
    "platform",
    "project_url",
    "project_urls",
    "provides_extra",
    "release_url",
    "requires_dist",
    "requires_python",
    "summary",
    "version",
    "yanked",
    "yanked_reason",
}
FILE_KEYS = {
    "comment_text",
    "core-metadata",
    "digests",
    "downloads",
    "filename",
    "has_sig",
    "md5_digest",
    "packagetype",
    "python_version",
    "requires_python",
    "size",
    "upload_time",
    "upload_time_iso_8601",
    "url",
    "yanked",
    "yanked_reason",
}
FLASK_WHEEL_SHA256 = "a080b744b7e345ccfcbc77954861cb05b3c63786e93f2b3875e0913d44b43f05"


def test_project_document_for_flask(testapp):
    response = testapp.get("/pypi/flask/json")
    assert response.content_type == "application/json"
    data = response.json
    assert set(data) == {"info", "last_serial", "ownership", "releases", "urls", "vulnerabilities"}
    assert data["vulnerabilities"] == []
    assert set(data["info"]) == INFO_KEYS
    info = data["info"]
    assert info["name"] == "Flask" and info["version"] == "1.0.2"
    assert info["summary"] == "A simple framework for building complex web applications."
    assert info["release_url"].endswith("/project/flask/1.0.2/")
    assert info["downloads"] == {"last_day": -1, "last_week": -1, "last_month": -1}
    assert len(data["releases"]) == 28
    assert sum(len(files) for files in data["releases"].values()) == 38
    assert [f["filename"] for f in data["urls"]] == [
        "Flask-1.0.2.tar.gz",
        "Flask-1.0.2-py2.py3-none-any.whl",
    ]
    wheel = data["urls"][1]
    assert set(wheel) == FILE_KEYS
    assert wheel["digests"]["sha256"] == FLASK_WHEEL_SHA256
    assert wheel["packagetype"] == "bdist_wheel"
    assert wheel["yanked"] is False and wheel["has_sig"] is False
    assert wheel["upload_time_iso_8601"].endswith("Z")
    assert response.headers["X-PyPI-Last-Serial"] == str(data["last_serial"])


def test_release_document(testapp):
    data = testapp.get("/pypi/flask/0.12/json").json
    assert "releases" not in data
    assert set(data) == {"info", "last_serial", "ownership", "urls", "vulnerabilities"}
    assert data["info"]["version"] == "0.12"
    assert all("0.12" in f["filename"] for f in data["urls"])


def test_redirects_and_404s(testapp):
    assert testapp.get("/pypi/Flask/json", status=301).location.endswith("/pypi/flask/json")
    assert testapp.get("/pypi/Flask/0.12/json", status=301).location.endswith(
        "/pypi/flask/0.12/json"
    )
    # PEP 440 equal versions find the release, and redirect to its spelling.
    assert testapp.get("/pypi/flask/1.0.2.0/json", status=301).location.endswith(
        "/pypi/flask/1.0.2/json"
    )
    testapp.get("/pypi/no-such-project-at-all/json", status=404)
    testapp.get("/pypi/flask/99.0/json", status=404)


def test_etag_304(testapp):
    first = testapp.get("/pypi/flask/json")
    testapp.get("/pypi/flask/json", headers={"If-None-Match": first.headers["ETag"]}, status=304)
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    testapp.get("/pypi/flask/json", headers=since, status=304)
    release = testapp.get("/pypi/flask/0.12/json")
    assert release.headers["ETag"] != first.headers["ETag"]


def test_uploads_show_in_the_json_api(post_upload, testapp):
    from .conftest import make_sdist, make_wheel

    post_upload(*make_sdist("demo-pkg", "1.0"), name="demo-pkg", version="1.0")
    first = testapp.get("/pypi/demo-pkg/json").json
    assert first["info"]["version"] == "1.0"
    assert first["ownership"]["roles"] == [{"role": "Owner", "user": "uploader"}]
    [sdist] = first["urls"]
    assert sdist["url"].startswith("http://localhost/files/")
    assert sdist["python_version"] == "source" and sdist["core-metadata"] is False
    post_upload(*make_wheel("demo-pkg", "2.0"), name="demo-pkg", version="2.0")
    second = testapp.get("/pypi/demo-pkg/json").json
    assert second["last_serial"] > first["last_serial"]
    assert second["info"]["version"] == "2.0"
    assert list(second["releases"]) == ["1.0", "2.0"]
    [wheel] = second["urls"]
    assert wheel["core-metadata"] == {"sha256": wheel["core-metadata"]["sha256"]}
    assert testapp.get(wheel["url"].removeprefix("http://localhost")).status_int == 200
