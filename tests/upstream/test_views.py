"""Upstream projects through /simple/<name>/ and /mirror/: cached, revalidated, checked."""

from __future__ import annotations

import datetime
import hashlib
import re

from pypi_web.models import UpstreamFile, UpstreamProject

V1_JSON = "application/vnd.pypi.simple.v1+json"


def test_json_page_keeps_pep_700_fields_and_yanks_with_files_pointing_here(
    upstream_testapp, fake_upstream
):
    kept = fake_upstream.add_wheel("mirrored-demo", "1.0")
    fake_upstream.add_wheel("mirrored-demo", "2.0", yanked="broken build", requires_python=">=3.10")

    response = upstream_testapp.get("/simple/mirrored-demo/", headers={"Accept": V1_JSON})

    assert response.content_type == V1_JSON
    page = response.json
    assert page["meta"] == {"api-version": "1.1", "_last-serial": 42}
    assert page["versions"] == ["1.0", "2.0"]
    first, second = page["files"]
    assert first["url"] == f"http://localhost/mirror/mirrored-demo/{kept.filename}"
    assert first["hashes"] == {"sha256": hashlib.sha256(kept.data).hexdigest()}
    assert first["size"] == len(kept.data)
    assert first["upload-time"] == "2026-01-02T03:04:05.000000Z"
    assert first["yanked"] is False
    assert first["core-metadata"] == {"sha256": hashlib.sha256(kept.metadata).hexdigest()}
    assert second["yanked"] == "broken build"
    assert second["requires-python"] == ">=3.10"
    assert response.headers["X-PyPI-Web-Upstream"] == fake_upstream.simple
    assert response.headers["X-PyPI-Web-Upstream-State"] == "fetched"


def test_html_page_of_an_upstream_project(upstream_testapp, fake_upstream):
    entry = fake_upstream.add_wheel("mirrored-html", "1.0", yanked="old")
    html = upstream_testapp.get("/simple/mirrored-html/", headers={"Accept": "text/html"}).text
    digest = hashlib.sha256(entry.data).hexdigest()
    assert f'href="http://localhost/mirror/mirrored-html/{entry.filename}#sha256={digest}"' in html
    assert 'data-yanked="old"' in html
    assert 'data-requires-python="&gt;=3.8"' in html


def test_revalidated_with_the_etag_then_served_stale_while_the_upstream_is_down(
    upstream_testapp, fake_upstream, dbsession
):
    fake_upstream.add_wheel("mirrored-stale", "1.0")
    upstream_testapp.get("/simple/mirrored-stale/", headers={"Accept": V1_JSON})

    again = upstream_testapp.get("/simple/mirrored-stale/", headers={"Accept": V1_JSON})
    assert again.headers["X-PyPI-Web-Upstream-State"] == "revalidated"

    fake_upstream.stop()
    stale = upstream_testapp.get("/simple/mirrored-stale/", headers={"Accept": V1_JSON})
    assert stale.headers["X-PyPI-Web-Upstream-State"] == "stale"
    assert int(stale.headers["Age"]) >= 0
    assert [f["filename"] for f in stale.json["files"]] == ["mirrored_stale-1.0-py3-none-any.whl"]
    cached = dbsession.query(UpstreamProject).filter_by(normalized_name="mirrored-stale").one()
    assert "Connection refused" in cached.last_error


def test_nothing_cached_and_the_upstream_down_is_a_503_with_the_reason(
    upstream_testapp, fake_upstream
):
    fake_upstream.stop()
    response = upstream_testapp.get("/simple/never-fetched/", status=503)
    assert "no upstream index could be reached" in response.text
    assert fake_upstream.simple + "never-fetched/" in response.text


def test_a_name_no_upstream_has_is_404(upstream_testapp, fake_upstream):
    response = upstream_testapp.get("/simple/nowhere-at-all/", status=404)
    assert "here or upstream" in response.text


def test_a_local_project_never_asks_the_upstream(upstream_testapp, fake_upstream):
    # "requests" is in the top-100 data: a local project.
    fake_upstream.add_wheel("requests", "999.0")
    page = upstream_testapp.get("/simple/requests/", headers={"Accept": V1_JSON}).json
    assert "999.0" not in page["versions"]
    assert fake_upstream.requests == []


def test_file_fetched_once_checked_stored_then_served_from_here(
    upstream_testapp, fake_upstream, dbsession
):
    entry = fake_upstream.add_wheel("mirrored-file", "1.0")
    upstream_testapp.get("/simple/mirrored-file/")
    url = f"/mirror/mirrored-file/{entry.filename}"

    assert upstream_testapp.get(url).body == entry.data
    assert upstream_testapp.get(url + ".metadata").body == entry.metadata
    fake_upstream.stop()
    assert upstream_testapp.get(url).body == entry.data

    stored = dbsession.query(UpstreamFile).filter_by(filename=entry.filename).one()
    assert stored.sha256_digest == hashlib.sha256(entry.data).hexdigest()
    assert stored.size == len(entry.data)
    file_requests = [path for path in fake_upstream.requests if path.startswith("/files/")]
    assert file_requests == [f"/files/{entry.filename}", f"/files/{entry.filename}.metadata"]


def test_a_tampered_upstream_file_is_refused_with_502_and_never_stored(
    upstream_testapp, fake_upstream, dbsession
):
    entry = fake_upstream.add_wheel("mirrored-tampered", "1.0")
    fake_upstream.tampered.add(entry.filename)
    upstream_testapp.get("/simple/mirrored-tampered/")

    response = upstream_testapp.get(f"/mirror/mirrored-tampered/{entry.filename}", status=502)

    assert re.search(r"sha256 is [0-9a-f]{64}, but its index page says", response.text)
    assert "not served" in response.text
    assert dbsession.query(UpstreamFile).filter_by(filename=entry.filename).count() == 0
    # Asked again, it is fetched and checked again: still refused.
    upstream_testapp.get(f"/mirror/mirrored-tampered/{entry.filename}", status=502)


def test_a_file_the_cached_page_does_not_list_is_404(upstream_testapp, fake_upstream):
    fake_upstream.add_wheel("mirrored-listed", "1.0")
    upstream_testapp.get("/simple/mirrored-listed/")
    upstream_testapp.get("/mirror/mirrored-listed/other-1.0.tar.gz", status=404)
    upstream_testapp.get("/mirror/not-cached/x-1.0.tar.gz", status=404)


def test_cooldown_hides_upstream_files_younger_than_the_setting(cooldown_testapp, fake_upstream):
    fresh = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)
    fake_upstream.add_wheel("mirrored-cooldown", "1.0")  # uploaded in January 2026
    young = fake_upstream.add_wheel(
        "mirrored-cooldown", "1.1", upload_time=fresh.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    )
    page = cooldown_testapp.get("/simple/mirrored-cooldown/", headers={"Accept": V1_JSON}).json
    assert [f["filename"] for f in page["files"]] == ["mirrored_cooldown-1.0-py3-none-any.whl"]
    # Nor can its URL be fetched past the page.
    cooldown_testapp.get(f"/mirror/mirrored-cooldown/{young.filename}", status=404)


def test_status_reports_upstream_health_and_cache_size(upstream_testapp, fake_upstream):
    entry = fake_upstream.add_wheel("mirrored-status", "1.0")
    upstream_testapp.get("/simple/mirrored-status/")
    upstream_testapp.get(f"/mirror/mirrored-status/{entry.filename}")
    fake_upstream.stop()
    upstream_testapp.get("/simple/mirrored-status/")

    report = upstream_testapp.get("/_status/upstream").json
    [upstream] = report["upstreams"]
    assert upstream["url"] == fake_upstream.simple
    assert upstream["projects_cached"] >= 1
    assert upstream["projects_failing_revalidation"] >= 1
    assert upstream["last_error_at"] is not None
    assert report["files_cached"] >= 1 and report["bytes_cached"] >= len(entry.data)
