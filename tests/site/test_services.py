"""Site-wide queries: counts and classifier browsing."""

from __future__ import annotations

from pypi_web.models import Classifier, Package, User
from pypi_web.site import services

from .. import factories


def test_site_stats_counts_the_top100_data(dbsession):
    assert services.site_stats(dbsession) == {
        "packages": 96,
        "releases": 5547,
        "files": 19160,
        "users": 0,
    }


def test_site_stats_sees_new_rows(dbsession):
    dbsession.add(User(username="Ann", username_lower="ann"))
    factories.project(dbsession, "new-one")
    stats = services.site_stats(dbsession)
    assert (stats["users"], stats["packages"]) == (1, 97)


def test_classifier_counts(dbsession):
    groups = services.classifier_counts(dbsession)
    assert list(groups) == ["License", "Programming Language"]
    licenses = dict(groups["License"])
    assert licenses["License :: OSI Approved :: BSD License"] == 27
    assert licenses["License :: OSI Approved :: MIT License"] == 33
    assert [c for c, _ in groups["License"]] == sorted(licenses)
    assert dict(groups["Programming Language"])["Programming Language :: Python :: 3.6"] == 59
    everything = [c for rows in groups.values() for c, _ in rows]
    assert all(c.startswith(("License :: ", "Programming Language :: ")) for c in everything)


def test_classifier_ranges_are_exact(dbsession):
    # Neighbours of the ranges' bounds must stay out; an unused classifier is not listed.
    flask = dbsession.query(Package).filter_by(normalized_name="flask").one()
    flask.classifiers += [
        Classifier(classifier="License"),
        Classifier(classifier="Licenses :: Not A Real Tree"),
        Classifier(classifier="License :; Odd"),
        Classifier(classifier="License :: Z Newest"),
    ]
    dbsession.add(Classifier(classifier="License :: Unused By Anyone"))
    dbsession.flush()
    names = [c for c, _ in services.classifier_counts(dbsession, ("License",))["License"]]
    assert "License :: Z Newest" in names
    assert "License :: Unused By Anyone" not in names
    assert not {"License", "Licenses :: Not A Real Tree", "License :; Odd"} & set(names)


def test_stats_cache_recounts_only_when_stale(dbsession, monkeypatch):
    cache = services.StatsCache(max_age=60)
    first = cache.get(dbsession)
    dbsession.add(User(username="cached", username_lower="cached"))
    dbsession.flush()
    assert cache.get(dbsession) == first  # within max_age: the cached counts
    clock = services.time.monotonic() + 61
    monkeypatch.setattr(services.time, "monotonic", lambda: clock)
    assert cache.get(dbsession)["users"] == first["users"] + 1


def test_stats_cache_with_no_max_age_counts_every_time(dbsession):
    cache = services.StatsCache(max_age=0)
    before = cache.get(dbsession)["users"]
    dbsession.add(User(username="uncached", username_lower="uncached"))
    dbsession.flush()
    assert cache.get(dbsession)["users"] == before + 1
