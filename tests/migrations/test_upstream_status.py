"""pypi-web-db status: each environment's upstream health and cache size."""

from __future__ import annotations

import datetime
import json

from sqlalchemy.orm import Session

from pypi_web.migrations.cli import main
from pypi_web.models import UpstreamFile, UpstreamProject, get_engine

UPSTREAM = "http://127.0.0.1:9/simple/"


def _cache(url: str, failing: bool) -> None:
    """Two cached projects (one failing its last revalidation when ``failing``), one file."""
    engine = get_engine({"sqlalchemy.url": url})
    now = datetime.datetime.now(datetime.UTC)
    with Session(engine) as session:
        ok = UpstreamProject(
            normalized_name="cached-ok",
            upstream_url=UPSTREAM,
            page_url=UPSTREAM + "cached-ok/",
            page={"files": []},
            fetched_at=now,
        )
        stale = UpstreamProject(
            normalized_name="cached-stale",
            upstream_url=UPSTREAM,
            page={"files": []},
            page_url=UPSTREAM + "cached-stale/",
            fetched_at=now,
            last_error="connection refused" if failing else None,
            last_error_at=now if failing else None,
        )
        session.add_all([ok, stale])
        session.flush()
        session.add(
            UpstreamFile(
                project_id=ok.id,
                filename="cached_ok-1.0-py3-none-any.whl",
                sha256_digest="0" * 64,
                size=2_500_000,
                path="00/cached_ok-1.0-py3-none-any.whl",
            )
        )
        session.commit()
    engine.dispose()


def _ini(tmp_path, name: str, url: str) -> str:
    ini = tmp_path / name
    ini.write_text(
        f"[app:main]\nuse = egg:pypi_web\nsqlalchemy.url = {url}\npypi_web.upstreams = {UPSTREAM}\n"
    )
    return str(ini)


def test_status_reports_upstream_health_and_cache_size_per_environment(
    migrated_database_url, database_factory, tmp_path, capsys
):
    _cache(migrated_database_url, failing=True)
    quiet = database_factory.create_migrated("quiet")
    prod = _ini(tmp_path, "production.ini", migrated_database_url)

    assert main(["status", f"prod={prod}", f"dev={quiet}"]) == 0

    out = capsys.readouterr().out
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("ENVIRONMENT  UPSTREAMS")))
    assert lines[start].split() == [
        "ENVIRONMENT", "UPSTREAMS", "PROJECTS", "HEALTH", "FILES", "CACHE", "SIZE"
    ]  # fmt: skip
    assert lines[start + 1].split() == ["prod", "1", "2", "FAILING", "(1)", "1", "2.5", "MB"]
    # A bare URL configures no upstream; its cache (empty) is still reported.
    assert lines[start + 2].split() == ["dev", "none", "0", "ok", "0", "0", "B"]
    assert f"upstream {UPSTREAM}: 1 cached project(s) failed their last revalidation" in out


def test_status_json_carries_the_same_report_as_status_upstream(
    migrated_database_url, tmp_path, capsys
):
    _cache(migrated_database_url, failing=False)
    prod = _ini(tmp_path, "production.ini", migrated_database_url)

    assert main(["status", "--json", f"prod={prod}"]) == 0

    [env] = json.loads(capsys.readouterr().out)["environments"]
    report = env["upstream"]
    assert report["enabled"] is True
    assert report["upstreams"] == [
        {
            "url": UPSTREAM,
            "projects_cached": 2,
            "projects_failing_revalidation": 0,
            "last_error_at": None,
            "oldest_confirmation": report["upstreams"][0]["oldest_confirmation"],
        }
    ]
    assert report["files_cached"] == 1 and report["bytes_cached"] == 2_500_000


def test_status_of_a_database_without_the_upstream_tables_has_no_upstream_section(
    empty_database_url, capsys
):
    main(["status", f"old={empty_database_url}"])
    assert "UPSTREAMS" not in capsys.readouterr().out
