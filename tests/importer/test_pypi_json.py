"""Converting and storing PyPI JSON documents: oddities, bad documents, updates."""

from __future__ import annotations

import datetime
import re

import pytest
from sqlalchemy import create_engine, func, select

from pypi_web.importer.data import BadDocument, ReleaseData, release_times
from pypi_web.importer.pypi_json import PypiJsonImporter, json_documents, project_from_document
from pypi_web.models import (
    Classifier,
    JournalEntry,
    Package,
    Release,
    ReleaseFile,
)

from .conftest import counts, fingerprint, run_import, write_json

UTC = datetime.UTC


def minimal_document(name="demo", version="1.0", files=None, **info):
    files = files if files is not None else [file_entry(f"{name}-{version}.tar.gz")]
    return {
        "info": {"name": name, "version": version, "classifiers": [], **info},
        "releases": {version: files},
    }


def file_entry(filename, sha="ab" * 32, upload_time="2018-01-02T03:04:05", **extra):
    return {
        "filename": filename,
        "packagetype": "sdist",
        "python_version": "source",
        "size": 1000,
        "digests": {"md5": "cd" * 16, "sha256": sha},
        "upload_time": upload_time,
        "url": f"https://files.example.org/{filename}",
        **extra,
    }


# --- conversion (no database) ---------------------------------------------------------


def test_placeholders_and_empty_strings_mean_not_given():
    project = project_from_document(
        minimal_document(
            summary="",
            license="UNKNOWN",
            author="  ",
            description_content_type="",
            home_page="UNKNOWN",
            keywords=["web", "index"],
        )
    )
    assert project.fields["summary"] is None
    assert project.fields["license"] is None
    assert project.fields["author"] is None
    assert project.fields["description_content_type"] is None
    assert project.fields["homepage_url"] is None
    assert project.fields["keywords"] == "web, index"


def test_several_authors_and_descriptions_are_kept_as_written():
    authors = "Ann Example, Bob Example <bob@example.org>"
    project = project_from_document(
        minimal_document(
            author=authors,
            description="Title\n=====\n\n*rst*",
            description_content_type="text/x-rst; charset=UTF-8",
        )
    )
    assert project.fields["author"] == authors
    assert project.fields["description"] == "Title\n=====\n\n*rst*"
    assert project.fields["description_content_type"] == "text/x-rst; charset=UTF-8"


def test_info_describes_only_the_latest_release():
    doc = minimal_document(version="2.0", summary="Two", requires_dist=["six"])
    doc["releases"]["1.0"] = [file_entry("demo-1.0.tar.gz")]
    doc["releases"]["2.0"] = [file_entry("demo-2.0.tar.gz")]
    project = project_from_document(doc)
    assert project.releases["2.0"].metadata["summary"] == "Two"
    assert project.releases["2.0"].metadata["requires_dist"] == ["six"]
    assert project.releases["1.0"].metadata is None


def test_metadata_24_fields_of_a_document_are_imported(migrated_database_url, session_factory_for):
    """pypi.org's documents carry them in ``info`` for the latest release."""
    doc = minimal_document(
        license_expression="MIT",
        license_files=["LICENSE"],
        provides_extra=["socks"],
        dynamic=["Requires-Dist"],
    )
    with session_factory_for(migrated_database_url)() as session:
        PypiJsonImporter(session).import_document(doc)
        session.commit()
        release = session.scalars(select(Release)).one()
        assert release.license_expression == "MIT"
        assert release.license_files == ["LICENSE"]
        assert release.provides_extra == ["socks"]
        assert release.dynamic == ["Requires-Dist"]


def test_latest_release_missing_from_releases_is_taken_from_urls():
    doc = minimal_document(version="1.0")
    doc["info"]["version"] = "1.1"
    doc["urls"] = [file_entry("demo-1.1.tar.gz")]
    project = project_from_document(doc)
    assert [f["filename"] for f in project.releases["1.1"].files] == ["demo-1.1.tar.gz"]


def test_yanked_state_only_when_the_document_says():
    doc = minimal_document(files=[file_entry("demo-1.0.tar.gz")])
    assert project_from_document(doc).releases["1.0"].yanked is None
    doc = minimal_document(
        files=[file_entry("demo-1.0.tar.gz", yanked=True, yanked_reason="broken")]
    )
    assert project_from_document(doc).releases["1.0"].yanked == (True, "broken")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.pop("info"), "no 'info' object"),
        (lambda d: d["info"].update(name="not a name!"), "invalid project name"),
        (lambda d: d["info"].update(version=3), "info: invalid version 3"),
        (lambda d: d.update(releases=["1.0"]), "'releases' is not an object"),
        (lambda d: d["releases"].update({"1.0": "demo.tar.gz"}), "files are not a list"),
        (lambda d: d["releases"].update({"x" * 101: []}), "longer than 100"),
        (lambda d: d["releases"].update({"1.0/../2": []}), "invalid version"),
        (lambda d: d["info"].update(summary=42), "summary 42 is not a string"),
        (lambda d: d["info"].update(classifiers="Framework :: Pyramid"), "classifiers is not"),
        (lambda d: d["info"].update(requires_dist=[1]), "requires_dist is not a list"),
        (lambda d: d["info"].update(description_content_type="x" * 256), "longer than 255"),
        (lambda d: d["info"].update(summary="a\x00b"), "NUL character"),
    ],
)
def test_bad_documents_are_refused_with_the_reason(change, reason):
    doc = minimal_document()
    change(doc)
    with pytest.raises(BadDocument, match=re.escape(reason)):
        project_from_document(doc)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"digests": {"sha256": "xyz"}}, "sha256 digest 'xyz' is not 64 hex digits"),
        ({"digests": {"sha256": "g" * 64}}, "sha256 digest"),
        ({"digests": {"sha256": "ab" * 32, "md5": "nothex"}}, "md5 digest"),
        ({"size": -1}, "size -1 is not a byte count"),
        ({"size": True}, "size True is not a byte count"),
        ({"url": "javascript:alert(1)"}, "not an http(s) URL"),
        ({"upload_time": "yesterday"}, "is not a timestamp"),
        ({"filename": "../evil.tar.gz"}, "valid filename"),
        ({"packagetype": None}, "packagetype None"),
        ({"python_version": "x" * 65}, "python_version is longer than 64"),
    ],
)
def test_bad_file_entries_are_refused_naming_release_and_file(change, reason):
    entry = file_entry("demo-1.0.tar.gz")
    entry.update(change)
    with pytest.raises(BadDocument, match=r"release '1\.0'") as excinfo:
        project_from_document(minimal_document(files=[entry]))
    assert reason in str(excinfo.value)


def test_a_filename_listed_under_two_releases_is_refused():
    doc = minimal_document()
    doc["releases"]["1.1"] = [file_entry("demo-1.0.tar.gz")]
    with pytest.raises(BadDocument, match=re.escape("demo-1.0.tar.gz is listed twice")):
        project_from_document(doc)


def test_release_without_files_is_dated_between_its_neighbours():
    def at(day):
        return {"upload_time": datetime.datetime(2018, 1, day, tzinfo=UTC)}

    releases = {
        "0.1": ReleaseData(),  # nothing older: dated by the next release
        "1.0": ReleaseData(files=[at(2), at(5)]),
        "1.1": ReleaseData(),  # after 1.0's last upload, capped by 2.0's first
        "2.0": ReleaseData(files=[at(4)]),
        "3.0": ReleaseData(),
    }
    times = release_times(releases)
    assert times["1.0"] == datetime.datetime(2018, 1, 2, tzinfo=UTC)
    assert times["0.1"] == datetime.datetime(2018, 1, 2, tzinfo=UTC)
    assert times["1.1"] == datetime.datetime(2018, 1, 4, tzinfo=UTC)
    assert times["3.0"] == datetime.datetime(2018, 1, 4, tzinfo=UTC)
    assert release_times({"1.0": ReleaseData()}) == {"1.0": None}


# --- storing (each backend) ------------------------------------------------------------


def test_bad_documents_among_good_ones(migrated_database_url, tmp_path, document):
    """Each bad document is named with its reason; the good ones are committed."""
    write_json(tmp_path, "docopt.json", document("docopt.json"))
    write_json(tmp_path, "appdirs.json", document("appdirs.json"))
    write_json(tmp_path, "invalid.json", '{"info": {"name": "broken"')
    write_json(tmp_path, "no-info.json", {"releases": {}})
    bad_version = document("six.json")
    bad_version["info"]["version"] = 1.11
    write_json(tmp_path, "six.json", bad_version)
    bad_sha = document("idna.json")
    bad_sha["releases"]["2.6"][0]["digests"]["sha256"] = "0123"
    write_json(tmp_path, "idna.json", bad_sha)
    # Valid on its own, but claims a file of docopt (imported before it): refused by
    # the database check, after it had already added a classifier of its own.
    stolen = minimal_document(
        name="stolen",
        files=[file_entry("docopt-0.6.2.tar.gz")],
        classifiers=["Topic :: Rolled Back"],
    )
    write_json(tmp_path, "z-stolen.json", stolen)
    # The same new classifier in a later good document must still link.
    write_json(
        tmp_path,
        "zz-good.json",
        minimal_document(name="good", classifiers=["Topic :: Rolled Back"]),
    )

    run = run_import("--db-url", migrated_database_url, "--json-dir", str(tmp_path))

    assert run.code == 1
    errors = {line.strip() for line in run.err.splitlines()[1:]}
    assert f"{tmp_path / 'six.json'}: info: invalid version 1.11" in errors
    assert any(
        e.startswith(f"{tmp_path / 'invalid.json'}: not valid JSON: Expecting") for e in errors
    )
    assert f"{tmp_path / 'no-info.json'}: not a PyPI JSON API document (no 'info' object)" in (
        errors
    )
    assert (
        f"{tmp_path / 'idna.json'}: release '2.6', file "
        f"{bad_sha['releases']['2.6'][0]['filename']}: sha256 digest '0123' is not 64 hex digits"
    ) in errors
    assert (
        f"{tmp_path / 'z-stolen.json'}: file docopt-0.6.2.tar.gz is already on the index "
        "as a file of docopt 0.6.2"
    ) in errors
    assert len(errors) == 5
    assert run.err.startswith("5 not imported (nothing of them was written):")
    # The good ones are committed, and counted alone.
    assert "3 created" in run.out
    assert counts(migrated_database_url)["packages"] == 3

    engine = create_engine(migrated_database_url)
    with engine.connect() as conn:
        names = set(conn.scalars(select(Package.normalized_name)))
        assert names == {"docopt", "appdirs", "good"}
        # Nothing of a refused document is left: no releases, files or journal entries.
        assert conn.scalar(select(func.count()).where(ReleaseFile.filename.like("idna%"))) == 0
        assert conn.scalar(select(func.count()).where(ReleaseFile.filename.like("six%"))) == 0
        assert conn.scalar(select(func.count()).where(JournalEntry.package_name == "stolen")) == 0
        good_classifiers = conn.scalars(
            select(Classifier.classifier).join(Classifier.packages).where(Package.name == "good")
        ).all()
        assert good_classifiers == ["Topic :: Rolled Back"]
    engine.dispose()


def test_reimport_updates_what_changed(migrated_database_url, tmp_path, session_factory_for):
    make_session = session_factory_for(migrated_database_url)
    doc = minimal_document(
        version="1.0",
        summary="First",
        classifiers=["Framework :: Pyramid", "License :: OSI Approved :: MIT License"],
    )
    with make_session() as session:
        PypiJsonImporter(session).import_document(doc)
        session.commit()
        first_serial = session.scalar(select(Package.last_serial))

    # A later snapshot of the same project: a new release, new summary, a classifier
    # not listed, a digest added to an existing file, a release yanked.
    later = minimal_document(version="1.1", summary="Second", classifiers=["Framework :: Pyramid"])
    later["releases"]["1.0"] = [
        file_entry(
            "demo-1.0.tar.gz",
            digests={"sha256": "ab" * 32, "md5": "cd" * 16, "blake2b_256": "ef" * 32},
            yanked=True,
            yanked_reason="bad build",
        )
    ]
    later["releases"]["1.1"] = [file_entry("demo-1.1.tar.gz", sha="12" * 32)]
    with make_session() as session:
        importer = PypiJsonImporter(session)
        importer.import_document(later)
        session.commit()
        report = importer.report
        package = session.scalars(select(Package)).one()
        releases = {r.version: r for r in package.releases}
        assert package.summary == "Second"
        # Classifiers are only added: a link made here is never undone by an import.
        assert [c.classifier for c in package.classifiers] == [
            "Framework :: Pyramid",
            "License :: OSI Approved :: MIT License",
        ]
        assert [r.version for r in package.releases] == ["1.1", "1.0"]  # newest first
        assert releases["1.0"].yanked and releases["1.0"].yanked_reason == "bad build"
        assert releases["1.0"].files[0].blake2_256_digest == "ef" * 32
        assert releases["1.1"].summary == "Second"
        assert package.last_serial > first_serial
        assert package.last_updated == datetime.datetime(2018, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (report.packages_created, report.packages_updated) == (0, 1)
    assert (report.releases_created, report.releases_updated) == (1, 1)
    assert (report.files_created, report.files_updated) == (1, 1)

    # A document that would replace a file's contents is refused.
    replaced = minimal_document(version="1.1", files=[file_entry("demo-1.1.tar.gz", sha="34" * 32)])
    with make_session() as session:
        importer = PypiJsonImporter(session)
        path = write_json(tmp_path, "demo.json", replaced)
        before = fingerprint(migrated_database_url)
        importer.import_paths([path])
        session.commit()
        assert importer.report.errors == [
            (
                str(path),
                f"release '1.1', file demo-1.1.tar.gz: this file is already on the index with "
                f"sha256 {'12' * 32} and 1000 bytes; a file can never be replaced",
            )
        ]
        assert not importer.report.changed
    assert fingerprint(migrated_database_url) == before


def test_a_file_moved_to_another_release_is_refused(migrated_database_url, session_factory_for):
    make_session = session_factory_for(migrated_database_url)
    with make_session() as session:
        PypiJsonImporter(session).import_document(minimal_document())
        session.commit()
    moved = minimal_document(version="1.1", files=[file_entry("demo-1.0.tar.gz")])
    with make_session() as session, pytest.raises(BadDocument) as excinfo:
        PypiJsonImporter(session).import_document(moved)
    assert str(excinfo.value) == (
        "release '1.1', file demo-1.0.tar.gz: this file is already on the index under release '1.0'"
    )


def test_json_documents_lists_only_json_files(tmp_path):
    write_json(tmp_path, "b.json", {})
    write_json(tmp_path, "a.json", {})
    write_json(tmp_path, "notes.txt", "")
    (tmp_path / "dir.json").mkdir()
    assert [p.name for p in json_documents(tmp_path)] == ["a.json", "b.json"]


def test_release_sort_order_follows_versions(migrated_database_url, session_factory_for):
    doc = minimal_document(version="2.0")
    for version in ("2.0", "1.0", "2.0rc1", "1.0.post1", "0.9d", "1!0.1"):
        doc["releases"][version] = []
    with session_factory_for(migrated_database_url)() as session:
        package = PypiJsonImporter(session).import_document(doc)
        session.flush()
        history = session.scalars(
            select(Release.version)
            .where(Release.package_id == package.id)
            .order_by(Release.sort_order)
        ).all()
        session.rollback()
    assert history == ["0.9d", "1.0", "1.0.post1", "2.0rc1", "2.0", "1!0.1"]


def test_a_database_error_fails_only_its_document(
    migrated_database_url, session_factory_for, tmp_path, monkeypatch
):
    """Should a row get past validation and be refused by the database, only its
    document is lost, with the database's reason."""
    from pypi_web.importer import pypi_json

    real_file_row = pypi_json.file_row

    def file_row_without_type(f, where):
        row = real_file_row(f, where)
        if row["filename"].startswith("broken"):
            row["packagetype"] = None  # NOT NULL in the schema
        return row

    monkeypatch.setattr(pypi_json, "file_row", file_row_without_type)
    broken = write_json(tmp_path, "broken.json", minimal_document(name="broken"))
    good = write_json(tmp_path, "good.json", minimal_document(name="good"))
    with session_factory_for(migrated_database_url)() as session:
        importer = PypiJsonImporter(session)
        report = importer.import_paths([broken, good])
        session.commit()
    assert [source for source, _ in report.errors] == [str(broken)]
    assert report.errors[0][1].startswith("the database refused it: ")
    assert "packagetype" in report.errors[0][1]
    assert (report.packages_created, report.releases_created, report.files_created) == (1, 1, 1)
    assert counts(migrated_database_url)["packages"] == 1


def test_two_documents_of_one_project_in_one_run(migrated_database_url, tmp_path, document):
    """The second would overwrite the first on every run: it is refused instead."""
    first = write_json(tmp_path, "a.json", document("six.json"))
    renamed = document("six.json")
    renamed["info"]["name"] = "Six"
    second = write_json(tmp_path, "b.json", renamed)
    for _ in range(2):
        run = run_import("--db-url", migrated_database_url, "--json-dir", str(tmp_path))
        assert run.code == 1
        assert f"{second}: project Six was already imported from {first} in this run" in run.err
    assert "Nothing changed" in run.out


def test_a_newer_release_on_the_index_keeps_the_package_metadata(
    migrated_database_url, session_factory_for, document
):
    """After an upload of a newer version here, re-importing the (older) document
    does not put the older release's summary back on the package."""
    make_session = session_factory_for(migrated_database_url)
    with make_session() as session:
        package = PypiJsonImporter(session).import_document(document("six.json"))
        package.summary = "Uploaded here"
        session.add(
            Release(
                package=package,
                version="1.99",
                canonical_version="1.99",
                sort_order=10_000,
                created=datetime.datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
        session.commit()
    before = fingerprint(migrated_database_url)
    with make_session() as session:
        importer = PypiJsonImporter(session)
        importer.import_document(document("six.json"))
        session.commit()
    assert not importer.report.changed
    assert fingerprint(migrated_database_url) == before


def test_a_document_without_releases(migrated_database_url, session_factory_for):
    doc = {"info": {"name": "empty", "version": None, "summary": "Nothing yet"}, "releases": {}}
    make_session = session_factory_for(migrated_database_url)
    for _ in range(2):
        with make_session() as session:
            importer = PypiJsonImporter(session)
            package = importer.import_document(doc)
            session.commit()
            assert (package.summary, package.releases) == ("Nothing yet", [])
    assert not importer.report.changed
