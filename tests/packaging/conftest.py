"""Helpers for the packaging tests: packages made inside the test's transaction."""

from __future__ import annotations

import datetime
import hashlib

import pytest

from pypi_web.models import Package, Release, ReleaseFile
from pypi_web.packaging import versions
from pypi_web.packaging.names import normalize


@pytest.fixture
def make_package(dbsession):
    """``make_package(name, ["1.0", "2.0b1"], **package_columns)`` -> Package.

    Rolled back with the test. Each release gets one sdist (sha256 derived
    from its name) and release times one day apart, oldest first.
    """

    def make(name: str, release_versions=("1.0",), yanked=None, **columns) -> Package:
        yanked = yanked or {}
        package = Package(name=name, normalized_name=normalize(name), **columns)
        dbsession.add(package)
        orders = versions.sort_orders(release_versions)
        start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
        for index, version in enumerate(release_versions):
            created = start + datetime.timedelta(days=index)
            release = Release(
                package=package,
                version=version,
                canonical_version=versions.canonical_version(version),
                is_prerelease=versions.is_prerelease(version),
                sort_order=orders[version],
                created=created,
                yanked=version in yanked,
                yanked_reason=yanked.get(version),
            )
            filename = f"{package.normalized_name}-{version}.tar.gz"
            release.files.append(
                ReleaseFile(
                    filename=filename,
                    packagetype="sdist",
                    python_version="source",
                    size=1234,
                    sha256_digest=hashlib.sha256(filename.encode()).hexdigest(),
                    upload_time=created,
                    url=f"https://files.example.org/{filename}",
                )
            )
            dbsession.add(release)
        dbsession.flush()
        return package

    return make
