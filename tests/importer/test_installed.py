"""Importing the distributions installed in the running Python environment."""

from __future__ import annotations

from importlib.metadata import PathDistribution
from importlib.metadata import version as installed_version

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from pypi_web.importer.data import BadDocument
from pypi_web.importer.installed import (
    InstalledImporter,
    installed_distributions,
    project_from_metadata,
)
from pypi_web.importer.pypi_json import PypiJsonImporter
from pypi_web.models import Package, Release
from pypi_web.packaging.names import normalize

from .conftest import fake_distribution, fingerprint, run_import


def test_metadata_is_converted(tmp_path):
    dist = fake_distribution(
        tmp_path,
        "Demo_Pkg",
        "2.0.0",
        Summary="A demo",
        Author="Ann Example, Bob Example",
        License_Expression="MIT",
        Classifier=["Framework :: Pyramid", "Programming Language :: Python :: 3"],
        Requires_Python=">=3.11",
        Requires_Dist=["packaging>=24", "sqlalchemy[asyncio]; extra == 'async'"],
        Project_URL=["Source, https://example.org/src", "Docs, https://example.org/docs"],
        Home_page="https://example.org",
        Keywords="web,index",
        Description_Content_Type="text/markdown",
        body="# Demo\n\nMarkdown body.\n",
    )
    project = project_from_metadata(dist.read_text("METADATA"))
    assert project.name == "Demo_Pkg"
    assert project.fields["summary"] == "A demo"
    assert project.fields["author"] == "Ann Example, Bob Example"
    assert project.fields["license"] == "MIT"
    assert project.fields["requires_python"] == ">=3.11"
    assert project.fields["homepage_url"] == "https://example.org"
    assert project.fields["project_urls"] == {
        "Source": "https://example.org/src",
        "Docs": "https://example.org/docs",
    }
    assert project.fields["keywords"] == "web, index"
    assert project.fields["description"] == "# Demo\n\nMarkdown body.\n"
    assert project.fields["description_content_type"] == "text/markdown"
    assert project.classifiers == ["Framework :: Pyramid", "Programming Language :: Python :: 3"]
    release = project.releases["2.0.0"]
    assert release.files == []  # an installation is not a release file
    assert release.metadata["requires_dist"] == [
        "packaging>=24",
        "sqlalchemy[asyncio]; extra == 'async'",
    ]


def test_old_style_description_header_is_unfolded():
    text = (
        "Metadata-Version: 1.1\nName: old\nVersion: 1.0\n"
        "Description: Title\n        =====\n        \n        Body line.\n"
    )
    project = project_from_metadata(text)
    assert project.fields["description"] == "Title\n=====\n\nBody line."


def test_unknown_placeholders_are_dropped():
    text = "Metadata-Version: 1.0\nName: old\nVersion: 1.0\nSummary: UNKNOWN\nLicense: UNKNOWN\n"
    project = project_from_metadata(text)
    assert project.fields["summary"] is None and project.fields["license"] is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Metadata-Version: 2.1\nVersion: 1.0\n", "invalid project name None"),
        ("Metadata-Version: 2.1\nName: x\n", "metadata: invalid version None"),
        ("Metadata-Version: 2.1\nName: bad name\nVersion: 1\n", "invalid project name"),
    ],
)
def test_broken_metadata_is_refused(text, reason):
    with pytest.raises(BadDocument, match=reason):
        project_from_metadata(text)


def test_installed_distributions_one_per_project():
    dists = installed_distributions()
    names = [normalize(d.metadata["Name"] or "") for d in dists]
    assert len(names) == len(set(names))
    assert {"pyramid", "sqlalchemy", "packaging"} <= set(names)


def test_installed_import_through_the_command(migrated_database_url, ini_file):
    ini = ini_file(migrated_database_url)
    run = run_import(str(ini), "--installed")
    assert run.code == 0, run.err
    assert "installed distributions" in run.out

    engine = create_engine(migrated_database_url)
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                select(Package.normalized_name, Release.version).join(Release.package)
            ).all()
        )
        sqlalchemy_package = conn.execute(
            select(Package).where(Package.normalized_name == "sqlalchemy")
        ).one()
    engine.dispose()
    for name in ("pyramid", "sqlalchemy", "packaging"):
        assert stored[name] == installed_version(name)
    assert sqlalchemy_package.summary
    assert sqlalchemy_package.created == sqlalchemy_package.last_updated

    before = fingerprint(migrated_database_url)
    again = run_import(str(ini), "--installed")
    assert again.code == 0 and "Nothing changed" in again.out
    assert fingerprint(migrated_database_url) == before


def test_installed_never_overwrites_index_data(
    migrated_database_url, session_factory_for, document, tmp_path
):
    make_session = session_factory_for(migrated_database_url)
    with make_session() as session:
        PypiJsonImporter(session).import_document(document("six.json"))
        PypiJsonImporter(session).import_document(document("docopt.json"))
        session.commit()
    before = fingerprint(migrated_database_url)

    # The same version as imported (PEP 440 equal), poorer metadata: changes nothing.
    same = fake_distribution(tmp_path / "a", "six", "1.11.0", Summary="Local copy")
    equal = fake_distribution(tmp_path / "b", "docopt", "0.6.2.0", Summary="Local copy")
    with make_session() as session:
        importer = InstalledImporter(session)
        importer.import_distributions([same, equal])
        session.commit()
    assert importer.report.errors == []
    assert not importer.report.changed
    assert fingerprint(migrated_database_url) == before

    # A newer installed version adds a release without files; the package keeps its data.
    newer = fake_distribution(tmp_path / "c", "six", "1.17.0", Summary="Local copy")
    with make_session() as session:
        importer = InstalledImporter(session)
        importer.import_distributions([newer])
        session.commit()
        package = session.scalars(select(Package).where(Package.name == "six")).one()
        latest = package.releases[0]
        assert (latest.version, latest.files, latest.summary) == ("1.17.0", [], "Local copy")
        assert package.summary == "Python 2 and 3 compatibility utilities"
        assert len(package.releases[1].files) > 0
        # last_updated follows file uploads; the new release has none.
        assert package.last_updated.year == 2017
    assert (importer.report.releases_created, importer.report.packages_updated) == (1, 1)


def test_index_data_replaces_installed_data(
    migrated_database_url, session_factory_for, document, tmp_path
):
    """Installed first, the index's document later: the richer data wins."""
    make_session = session_factory_for(migrated_database_url)
    installed = fake_distribution(tmp_path, "docopt", "0.6.2", Summary="Local copy")
    with make_session() as session:
        InstalledImporter(session).import_distributions([installed])
        session.commit()
    docopt = document("docopt.json")
    with make_session() as session:
        importer = PypiJsonImporter(session)
        importer.import_document(docopt)
        session.commit()
        package = session.scalars(select(Package).where(Package.name == "docopt")).one()
        latest = package.releases[0]
        assert package.summary == docopt["info"]["summary"]
        assert latest.version == "0.6.2" and latest.summary == docopt["info"]["summary"]
        assert len(latest.files) == len(docopt["releases"]["0.6.2"])
        # Created when its first file was uploaded, not when it was installed here.
        assert package.created.year == 2012
    report = importer.report
    assert (report.packages_created, report.packages_updated) == (0, 1)
    assert (report.releases_created, report.releases_updated) == (10, 1)
    assert report.files_created == 11


def test_broken_distribution_is_reported_by_path(migrated_database_url, tmp_path):
    dist_info = tmp_path / "broken-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\n\n")
    engine = create_engine(migrated_database_url)
    with Session(engine) as session:
        importer = InstalledImporter(session)
        importer.import_distributions([PathDistribution(dist_info)])
    engine.dispose()
    assert importer.report.errors == [(str(dist_info), "metadata: invalid version None")]
    assert importer.report.distributions == 1 and not importer.report.changed
