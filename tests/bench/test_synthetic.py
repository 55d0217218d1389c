"""bench/synthetic.py: a synthetic index, written in bulk, that the site serves."""

from __future__ import annotations

import webtest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from bench import synthetic
from pypi_web import main as make_app
from pypi_web.models import JournalEntry, Package, Release, ReleaseFile, package_classifiers
from pypi_web.packaging import versions

PACKAGES, RELEASES, FILES = 200, 1500, 3000


def generate(url: str, *extra: str) -> int:
    return synthetic.main(
        ["--db-url", url, "--packages", str(PACKAGES), "--releases", str(RELEASES),
         "--files", str(FILES), *extra]
    )  # fmt: skip


def test_generates_the_requested_counts(migrated_database_url, session_factory_for, capsys):
    assert generate(migrated_database_url, "--seed", "7") == 0
    assert "Generated 200 packages, 1,500 releases" in capsys.readouterr().out
    with session_factory_for(migrated_database_url)() as session:

        def count(what) -> int:
            return session.scalar(select(func.count()).select_from(what))

        assert count(Package) == PACKAGES
        assert count(Release) == RELEASES
        # About two files per release: an sdist each, and wheels.
        assert 0.9 * FILES <= count(ReleaseFile) <= 1.1 * FILES
        assert count(package_classifiers) >= 3 * PACKAGES
        names = session.scalars(select(Package.normalized_name)).all()
        assert len(set(names)) == PACKAGES
        assert (
            session.scalar(
                select(func.count()).select_from(Package).where(Package.summary.is_(None))
            )
            == 0
        )
        # Zipf-like: most packages have few releases, a few have many.
        per_package = sorted(
            session.scalars(
                select(func.count()).select_from(Release).group_by(Release.package_id)
            ).all()
        )
        assert len(per_package) == PACKAGES and per_package[0] >= 1
        assert per_package[len(per_package) // 2] < RELEASES / PACKAGES < per_package[-1]
        # Every file has a release of its own package's name, and no release is empty.
        assert (
            session.scalar(select(func.count()).select_from(Release).where(~Release.files.any()))
            == 0
        )
        # sort_order agrees with the project's version ordering.
        package = session.scalars(select(Package).where(Package.releases.any())).first()
        ordered = [r.version for r in sorted(package.releases, key=lambda r: r.sort_order)]
        assert ordered == sorted(ordered, key=versions.sort_key)
        assert session.scalar(select(func.count()).where(Release.is_prerelease)) > 0
        # A journal entry per release, and each project's serial is its newest entry.
        assert count(JournalEntry) == RELEASES
        newest_entry = dict(
            session.execute(
                select(JournalEntry.package_name, func.max(JournalEntry.id)).group_by(
                    JournalEntry.package_name
                )
            ).all()
        )
        assert {p.name: p.last_serial for p in session.scalars(select(Package))} == newest_entry


def test_postgres_tables_are_vacuumed_after_the_bulk_load(migrated_postgres_url):
    """VACUUM after a bulk load is a Postgres matter (SQLite's ANALYZE is in the load)."""
    engine = create_engine(migrated_postgres_url, poolclass=NullPool)
    assert generate(migrated_postgres_url) == 0
    with engine.connect() as connection:
        vacuumed = set(
            connection.exec_driver_sql(
                "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL"
            ).scalars()
        )
    engine.dispose()
    assert set(synthetic.GENERATED_TABLES) <= vacuumed


def test_same_seed_same_data_and_a_second_run_adds_new_names(
    migrated_database_url, session_factory_for
):
    assert generate(migrated_database_url, "--seed", "3") == 0
    assert generate(migrated_database_url, "--seed", "3") == 0
    with session_factory_for(migrated_database_url)() as session:
        names = session.scalars(select(Package.normalized_name)).all()
        assert len(names) == len(set(names)) == 2 * PACKAGES
        assert session.scalar(select(func.count()).select_from(Release)) == 2 * RELEASES


def test_the_site_serves_generated_projects(
    migrated_database_url, app_settings, session_factory_for
):
    assert generate(migrated_database_url) == 0
    with session_factory_for(migrated_database_url)() as session:
        package = session.scalars(
            select(Package).where(Package.releases.any()).order_by(Package.id)
        ).first()
        name, summary = package.normalized_name, package.summary
        version = package.releases[0].version
    app = make_app({}, **{**app_settings, "sqlalchemy.url": migrated_database_url})
    testapp = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    project = testapp.get(f"/project/{name}/", status=200)
    assert summary in project.text
    testapp.get(f"/project/{name}/{version}/", status=200)
    # The full-text index was filled as the rows went in.
    word = summary.split()[1]
    found = testapp.get("/search/", params={"q": f"{name} {word}"}, status=200)
    assert f"/project/{name}/" in found.text
    testapp.get(f"/search/?q={name}", status=200).mustcontain(f"/project/{name}/")
    app.registry["dbengine"].dispose()


def test_refuses_a_database_without_schema(empty_database_url, capsys):
    assert generate(empty_database_url) == 2
    assert "upgrade head" in capsys.readouterr().err


def test_refuses_fewer_releases_than_packages(migrated_database_url, capsys):
    code = synthetic.main(
        ["--db-url", migrated_database_url, "--packages", "10", "--releases", "5"]
    )
    assert code == 2
    assert "--releases (5) must be at least --packages (10)" in capsys.readouterr().err
