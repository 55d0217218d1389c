"""Small test data factories: rows with plausible defaults, flushed, rolled back with the test.

``project(dbsession, "name", ["1.0", "2.0"], owner=user)`` makes a project with
releases (one day apart, oldest first, each with an sdist unless
``files=False``); ``release``, ``release_file``, ``user`` and ``token`` make one
row each. Fixtures (tests/conftest.py) wrap them where a test wants a ready one.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable

from pypi_web.accounts import services as accounts
from pypi_web.models import OWNER, ApiToken, Package, Release, ReleaseFile, Role, User
from pypi_web.packaging import versions
from pypi_web.packaging.names import normalize

# The password of every account a factory makes (log_in in tests/accounts/helpers.py).
ACCOUNT_PASSWORD = "correct horse battery"
# The project the "project" fixture makes: owned by "owner", releases 1.0 and 2.0.
DEMO_PROJECT = "demo-pkg"
RELEASES_START = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


def project(
    dbsession,
    name: str,
    release_versions: Iterable[str] = (),
    *,
    owner: User | None = None,
    yanked: dict[str, str] | None = None,
    files: bool = True,
    **columns,
) -> Package:
    """A project; ``yanked`` maps versions to their reason; ``columns`` are Package's."""
    columns.setdefault("last_serial", 0)
    package = Package(name=name, normalized_name=normalize(name), **columns)
    dbsession.add(package)
    release_versions = list(release_versions)
    orders = versions.sort_orders(release_versions)
    yanked = yanked or {}
    for index, version in enumerate(release_versions):
        created = RELEASES_START + datetime.timedelta(days=index)
        made = release(
            dbsession,
            package,
            version,
            sort_order=orders[version],
            created=created,
            yanked=version in yanked,
            yanked_reason=yanked.get(version),
        )
        if files:
            release_file(dbsession, made, upload_time=created)
    if owner is not None:
        dbsession.add(Role(user=owner, package=package, role_name=OWNER))
    dbsession.flush()
    return package


def release(dbsession, package: Package, version: str, **columns) -> Release:
    """A release of ``package``; its canonical version and pre-release flag follow."""
    columns.setdefault("canonical_version", versions.canonical_version(version))
    columns.setdefault("is_prerelease", versions.is_prerelease(version))
    columns.setdefault("sort_order", len(package.releases))
    made = Release(package=package, version=version, **columns)
    dbsession.add(made)
    return made


def release_file(dbsession, of: Release, filename: str | None = None, **columns) -> ReleaseFile:
    """An sdist of ``of`` (imported: it links to an original URL); sha256 from its name."""
    filename = filename or f"{normalize(of.package.name)}-{of.version}.tar.gz"
    columns.setdefault("packagetype", "sdist")
    columns.setdefault("python_version", "source")
    columns.setdefault("size", 1234)
    columns.setdefault("sha256_digest", hashlib.sha256(filename.encode()).hexdigest())
    columns.setdefault("upload_time", RELEASES_START)
    columns.setdefault("url", f"https://files.example.org/{filename}")
    made = ReleaseFile(filename=filename, **columns)
    of.files.append(made)
    return made


def user(dbsession, username: str, password: str = ACCOUNT_PASSWORD, **columns) -> User:
    """An active account, ``<username>@example.org`` unless ``email`` is given."""
    columns.setdefault("email", f"{username.lower()}@example.org")
    return accounts.create_user(dbsession, username, password, **columns)


def token(
    dbsession, of: User, description: str = "test token", package: Package | None = None
) -> tuple[ApiToken, str]:
    """An API token of ``of`` and its secret (scoped to ``package`` when given)."""
    return accounts.create_api_token(dbsession, of, description, package=package)
