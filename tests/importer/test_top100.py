"""The full top-100 import, through the command, on each backend."""

from __future__ import annotations

from sqlalchemy import create_engine, select

from pypi_web.models import Classifier, JournalEntry, Package, Release, ReleaseFile
from pypi_web.packaging import versions

from .conftest import counts, fingerprint, run_import, summary


def expected_from(documents) -> dict[str, int]:
    return {
        "packages": len(documents),
        "releases": sum(len(d["releases"]) for d in documents.values()),
        "files": sum(len(f) for d in documents.values() for f in d["releases"].values()),
        "classifier_links": sum(len(set(d["info"]["classifiers"])) for d in documents.values()),
    }


def test_counts_match_the_documents(top100_import, top100_documents):
    url, run = top100_import
    assert run.code == 0, run.err
    assert run.err == ""
    expected = expected_from(top100_documents)
    assert (expected["packages"], expected["releases"], expected["files"]) == (96, 5547, 19160)
    assert counts(url) == expected
    assert summary(run.out) == {
        "packages": (96, 0),
        "releases": (5547, 0),
        "files": (19160, 0),
    }


def test_every_release_and_file_is_stored_exactly(top100_import, top100_documents):
    url, _ = top100_import
    engine = create_engine(url)
    with engine.connect() as conn:
        stored_releases = set(
            conn.execute(select(Package.name, Release.version).join(Release.package)).all()
        )
        stored_files = {
            row.filename: row
            for row in conn.execute(
                select(
                    ReleaseFile.filename,
                    ReleaseFile.sha256_digest,
                    ReleaseFile.size,
                    ReleaseFile.url,
                    Release.version,
                ).join(Release)
            )
        }
    engine.dispose()
    expected_releases = {
        (d["info"]["name"], v) for d in top100_documents.values() for v in d["releases"]
    }
    assert stored_releases == expected_releases
    for doc in top100_documents.values():
        for version, files in doc["releases"].items():
            for f in files:
                row = stored_files[f["filename"]]
                assert (row.sha256_digest, row.size, row.url, row.version) == (
                    f["digests"]["sha256"],
                    f["size"],
                    f["url"],
                    version,
                )


def test_legacy_versions_are_kept_exactly(top100_import, top100_documents):
    url, _ = top100_import
    legacy = {
        (d["info"]["name"], v)
        for d in top100_documents.values()
        for v in d["releases"]
        if versions.is_legacy(v)
    }
    # The oddities the data's README promises, so the check above is not vacuous.
    assert {("pytz", "2004d"), ("paramiko", "0.9-doduo"), ("boto", "1.5d")} <= legacy
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Package.name, Release.version, Release.canonical_version, Release.sort_order
            ).join(Release.package)
        ).all()
        lowest_pep440 = dict(
            conn.execute(
                select(Package.name, Release.sort_order)
                .join(Release.package)
                .where(Release.version == "2013.7")  # a pytz release, valid PEP 440
            ).all()
        )
    engine.dispose()
    stored = {(r.name, r.version): r.canonical_version for r in rows}
    # Kept as published: no normalisation, nothing dropped.
    assert all(stored.get(key) == key[1] for key in legacy)
    # pytz's legacy "2013d" sorts below its PEP 440 "2013.7", as pip orders them.
    pytz = {r.version: r.sort_order for r in rows if r.name == "pytz"}
    assert pytz["2013d"] < lowest_pep440["pytz"]


def test_classifiers_are_linked(top100_import, top100_documents):
    url, _ = top100_import
    engine = create_engine(url)
    with engine.connect() as conn:
        linked: dict[str, set[str]] = {}
        for name, classifier in conn.execute(
            select(Package.name, Classifier.classifier)
            .join(Package.classifiers)
            .order_by(Package.name)
        ):
            linked.setdefault(name, set()).add(classifier)
    engine.dispose()
    for doc in top100_documents.values():
        assert linked.get(doc["info"]["name"], set()) == set(doc["info"]["classifiers"])


def test_package_times_serials_and_latest_metadata(top100_import, top100_documents):
    url, _ = top100_import
    engine = create_engine(url)
    with engine.connect() as conn:
        requests = conn.execute(select(Package).where(Package.normalized_name == "requests")).one()
        latest = conn.execute(
            select(Release)
            .where(Release.package_id == requests.id)
            .order_by(Release.sort_order.desc())
            .limit(1)
        ).one()
        older = conn.execute(
            select(Release).where(Release.package_id == requests.id, Release.version == "2.0.0")
        ).one()
        file_less = conn.execute(
            select(Release.created).where(
                Release.package_id == requests.id, Release.version == "2.15.0"
            )
        ).scalar_one()
        neighbour_uploads = conn.execute(
            select(Release.version, Release.created).where(
                Release.package_id == requests.id, Release.version.in_(["2.14.2", "2.15.1"])
            )
        ).all()
        journal = conn.execute(
            select(JournalEntry).where(JournalEntry.package_name == "requests")
        ).all()
    engine.dispose()
    info = top100_documents["requests.json"]["info"]
    all_uploads = [
        f["upload_time"]
        for files in top100_documents["requests.json"]["releases"].values()
        for f in files
    ]
    assert requests.created.isoformat().startswith(min(all_uploads))
    assert requests.last_updated.isoformat().startswith(max(all_uploads))
    # Empty strings in "info" are stored as "not given".
    assert requests.keywords is None and requests.maintainer is None
    assert latest.version == info["version"] == "2.18.4"
    assert latest.summary == info["summary"]
    assert latest.requires_dist == info["requires_dist"]
    # "info" describes the latest release only.
    assert older.summary is None and older.requires_dist is None
    # 2.15.0 has no files: it is dated between its neighbours, not at the project's start.
    times = dict(neighbour_uploads)
    assert times["2.14.2"] <= file_less <= times["2.15.1"]
    assert len(journal) == 1 and requests.last_serial == journal[0].id


def test_second_import_changes_nothing(top100_import, top100_dir):
    url, first = top100_import
    assert first.code == 0
    before_counts, before = counts(url), fingerprint(url)
    second = run_import("--db-url", url, "--json-dir", str(top100_dir))
    assert second.code == 0, second.err
    assert "Nothing changed" in second.out
    assert summary(second.out) == {"packages": (0, 0), "releases": (0, 0), "files": (0, 0)}
    assert counts(url) == before_counts
    assert fingerprint(url) == before
