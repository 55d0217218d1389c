"""The page services: choosing the release to show, and what the sidebar says."""

from __future__ import annotations

from pypi_web.models import Classifier, Package, Release
from pypi_web.packaging import services, versions


def releases_newest_first(*specs: str) -> list[Release]:
    """``"1.0"``, ``"2.0!y"`` (yanked): Release objects ordered as history is."""
    names = [spec.removesuffix("!y") for spec in specs]
    orders = versions.sort_orders(names)
    releases = [
        Release(
            id=orders[name] + 1,
            version=name,
            canonical_version=versions.canonical_version(name),
            is_prerelease=versions.is_prerelease(name),
            sort_order=orders[name],
            yanked=spec.endswith("!y"),
        )
        for spec, name in zip(specs, names, strict=True)
    ]
    return sorted(releases, key=lambda r: r.sort_order, reverse=True)


def latest(*specs: str) -> str | None:
    chosen = services.choose_latest(releases_newest_first(*specs))
    return chosen.version if chosen is not None else None


def test_latest_is_newest_final_release():
    assert latest("1.0", "2.0", "1.5") == "2.0"
    assert latest("1.0", "2.0a1", "1.9") == "1.9"
    assert latest("1.0", "2.0.dev1") == "1.0"
    assert latest("1.0", "1.0.post1") == "1.0.post1"


def test_latest_skips_yanked():
    assert latest("1.0", "2.0!y") == "1.0"


def test_latest_falls_back_to_prerelease_then_legacy_then_yanked():
    assert latest("1.0a1", "1.0b1") == "1.0b1"
    assert latest("1.0a1", "0.9d") == "1.0a1"  # a legacy version is pip's last resort
    assert latest("2004d", "2005a") == "2005a"
    assert latest("1.0!y", "2.0!y") == "2.0"
    assert latest() is None


def test_find_release_exact_then_canonical():
    releases = releases_newest_first("1.0", "2.1a1", "2004d")
    assert services.find_release(releases, "2.1a1").version == "2.1a1"
    assert services.find_release(releases, "2.1.0-alpha.1").version == "2.1a1"
    assert services.find_release(releases, "1.0.0").version == "1.0"
    assert services.find_release(releases, "2004d").version == "2004d"
    assert services.find_release(releases, "3.0") is None
    assert services.find_release(releases, "not a version") is None


def test_find_release_prefers_the_exact_spelling():
    # "1.0" and "1.0.0" are one PEP 440 version; both spellings were published.
    releases = releases_newest_first("1.0", "1.0.0")
    assert services.find_release(releases, "1.0.0").version == "1.0.0"
    assert services.find_release(releases, "1.0").version == "1.0"


def package_with(license=None, classifiers=(), **columns) -> Package:
    package = Package(name="p", normalized_name="p", license=license, **columns)
    package.classifiers = [Classifier(classifier=c) for c in classifiers]
    return package


def test_license_from_classifiers_first():
    package = package_with(
        license="BSD-ish",
        classifiers=[
            "License :: OSI Approved",
            "License :: OSI Approved :: MIT License",
            "License :: OSI Approved :: Apache Software License",
            "Topic :: Utilities",
        ],
    )
    assert services.license_summary(package) == "MIT License, Apache Software License"


def test_license_field_when_no_classifier():
    assert services.license_summary(package_with(license="Apache 2.0")) == "Apache 2.0"
    assert services.license_summary(package_with(license="  ")) is None
    assert services.license_summary(package_with()) is None


def test_license_text_is_shortened():
    mit = "MIT License\n\nCopyright (c) 2018\n\nPermission is hereby granted..."
    assert services.license_summary(package_with(license=mit)) == "MIT License …"
    one_long_line = "This software is licensed under terms " * 10
    summary = services.license_summary(package_with(license=one_long_line))
    assert len(summary) == services.LICENSE_SHORT_MAX
    assert summary.endswith("…")


def test_classifier_groups():
    package = package_with(
        classifiers=[
            "Topic :: Utilities",
            "License :: OSI Approved :: BSD License",
            "Programming Language :: Python :: 3",
            "Programming Language :: Python",
            "Private :: Do Not Upload",
        ]
    )
    groups = dict(services.classifier_groups(package))
    assert list(groups) == ["License", "Private", "Programming Language", "Topic"]
    assert groups["Programming Language"] == [
        ("Programming Language :: Python :: 3", "Python :: 3"),
        ("Programming Language :: Python", "Python"),
    ]


def test_project_links_only_web_urls_without_duplicates():
    package = package_with(
        homepage_url="https://example.org/",
        project_urls={
            "Source": "https://github.com/example/p",
            "Home": "https://example.org/",
            "Evil": "javascript:alert(1)",
            "Data": "data:text/html,<script>alert(1)</script>",
            "Relative": "/relative",
            "Mail": "mailto:someone@example.org",
        },
    )
    assert services.project_links(package) == [
        ("Homepage", "https://example.org/"),
        ("Source", "https://github.com/example/p"),
    ]
    assert services.project_links(package_with()) == []


def test_people_and_mailto():
    package = package_with(
        author="Ann", author_email="ann@example.org", maintainer_email="a@x.org, b@y.org"
    )
    people = services.metadata_people(package)
    assert [(p.role, p.label, p.mailto) for p in people] == [
        ("Author", "Ann", "mailto:ann@example.org"),
        # A list of addresses is not one mailto: link.
        ("Maintainer", "a@x.org, b@y.org", None),
    ]
    assert services.metadata_people(package_with()) == []


def test_newest_releases_and_packages(dbsession):
    releases = services.newest_releases(dbsession, limit=3)
    assert [(r.name, r.version) for r in releases] == [
        ("awscli", "1.15.30"),
        ("botocore", "1.10.30"),
        ("boto3", "1.7.30"),
    ]
    assert releases[0].summary  # the package's summary stands in for the release's
    created = [p.created for p in services.newest_packages(dbsession, limit=96)]
    assert created == sorted(created, reverse=True)
    assert len(created) == 96


def test_package_lookup_loads_classifiers_and_roles_eagerly(dbsession, count_queries):
    dbsession.connection()  # the transaction's BEGIN is not the lookup's
    with count_queries() as counter:
        package = services.package_by_normalized_name(dbsession, "flask")
        names = [c.classifier for c in package.classifiers]
        users = list(package.roles)
    assert "License :: OSI Approved :: BSD License" in names
    assert users == []
    assert counter.count == 3
    assert services.package_by_normalized_name(dbsession, "Flask") is None


def test_release_history_is_one_statement(dbsession, count_queries):
    package = services.package_by_normalized_name(dbsession, "awscli")  # begins the transaction
    with count_queries() as counter:
        releases = services.release_history(dbsession, package.id)
        orders = [r.sort_order for r in releases]
    assert counter.count == 1
    assert len(releases) == 544
    assert orders == sorted(orders, reverse=True)


def test_release_history_builds_no_release_objects(dbsession):
    # A history of thousands of releases as ORM instances was most of a project page's time.
    package = services.package_by_normalized_name(dbsession, "awscli")
    dbsession.expunge_all()
    releases = services.release_history(dbsession, package.id)
    assert len(releases) == 544
    assert not [obj for obj in dbsession.identity_map.values() if isinstance(obj, Release)]
    assert services.choose_latest(releases).version == "1.15.30"
