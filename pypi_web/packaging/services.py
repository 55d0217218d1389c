"""The queries behind the project and release pages, and what they show.

Each page issues a fixed handful of statements whatever the size of the
project: the package with its classifiers and roles (eager, selectinload),
its release history in one query, and the files of the one release shown.
Every statement is served by an index (normalized_name unique,
releases (package_id, sort_order), release_files.release_id,
package_classifiers' primary key, roles.package_id).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, selectinload

from pypi_web.models import OWNER, Package, Release, ReleaseFile, Role, User
from pypi_web.packaging import versions
from pypi_web.packaging.names import ultranormalize
from pypi_web.packaging.rendering import render_description

NEWEST_LIMIT = 10
# A release or a row of its columns (choose_latest and find_release read attributes).
AnyRelease = TypeVar("AnyRelease", Release, Row)
AnyFile = TypeVar("AnyFile", ReleaseFile, Row)
# A license field longer than this (or spanning lines) is a whole license
# text pasted into the metadata; the sidebar shows its first line only.
LICENSE_SHORT_MAX = 80


def resembled_project(dbsession: Session, name: str) -> Package | None:
    """The existing project ``name`` could be mistaken for (same ultranormalized name)."""
    return dbsession.scalars(
        select(Package).where(Package.ultranormalized_name == ultranormalize(name)).limit(1)
    ).first()


def too_similar_message(name: str) -> str:
    # pypi.org's words, so clients and people recognise the refusal.
    return (
        f"The name '{name}' is too similar to an existing project. "
        "See https://pypi.org/help/#project-name for more information."
    )


def package_by_normalized_name(
    dbsession: Session, normalized_name: str, *, details: bool = True
) -> Package | None:
    """The package; with ``details`` its classifiers and roles' users too (three statements)."""
    query = select(Package).where(Package.normalized_name == normalized_name)
    if details:
        query = query.options(
            selectinload(Package.classifiers),
            selectinload(Package.roles).joinedload(Role.user),
        )
    return dbsession.scalars(query).one_or_none()


# What the release history shows of each release: columns, not ORM objects
# (a project may have thousands of releases; an instance costs ~20x a row).
HISTORY_COLUMNS = (
    Release.id,
    Release.version,
    Release.canonical_version,
    Release.is_prerelease,
    Release.sort_order,
    Release.created,
    Release.yanked,
    Release.yanked_reason,
)


def release_history(dbsession: Session, package_id: int) -> list[Row]:
    """Every release of a package, newest first, in one statement, as rows of
    ``HISTORY_COLUMNS`` (``release_by_id`` loads the one a page shows)."""
    return list(
        dbsession.execute(
            select(*HISTORY_COLUMNS)
            .where(Release.package_id == package_id)
            .order_by(Release.sort_order.desc())
        )
    )


def release_by_id(dbsession: Session, release_id: int) -> Release:
    return dbsession.get_one(Release, release_id)


def release_files(dbsession: Session, release_id: int) -> list[ReleaseFile]:
    """A release's files, in page order."""
    files = dbsession.scalars(select(ReleaseFile).where(ReleaseFile.release_id == release_id))
    return in_page_order(files)


def in_page_order(files: Iterable[AnyFile]) -> list[AnyFile]:
    """Files as every page lists them: the sdist first, then the built distributions by name."""
    return sorted(files, key=lambda f: (f.packagetype != "sdist", f.filename))


def choose_latest(releases: Sequence[AnyRelease]) -> AnyRelease | None:
    """The release a project page shows, from a history ordered newest first.

    As pip would choose: the newest final PEP 440 release that is not yanked;
    failing that a non-yanked pre-release, then a non-yanked legacy version,
    and when everything is yanked, the newest release of all.
    """
    preferences = (
        lambda r: not r.yanked and not r.is_prerelease and not versions.is_legacy(r.version),
        lambda r: not r.yanked and not versions.is_legacy(r.version),
        lambda r: not r.yanked,
        lambda r: True,
    )
    for acceptable in preferences:
        for release in releases:
            if acceptable(release):
                return release
    return None


def find_release(releases: Sequence[AnyRelease], version: str) -> AnyRelease | None:
    """The release published as ``version``, else the one equal to it under PEP 440."""
    for release in releases:
        if release.version == version:
            return release
    wanted = versions.canonical_version(version)
    for release in releases:
        if release.canonical_version == wanted:
            return release
    # PEP 440 equality also ignores trailing zeros ("2.1.0a1" is "2.1a1").
    parsed = versions.parse(version)
    if parsed is not None:
        for release in releases:
            if versions.parse(release.version) == parsed:
                return release
    return None


def license_summary(package: Package) -> str | None:
    """The license in a few words: from License :: classifiers, else the license field."""
    names = [
        c.leaf
        for c in package.classifiers
        if c.classifier.startswith("License :: ") and c.classifier != "License :: OSI Approved"
    ]
    if names:
        return ", ".join(names)
    text = (package.license or "").strip()
    if not text:
        return None
    first_line = next(line.strip() for line in text.splitlines() if line.strip())
    if len(first_line) > LICENSE_SHORT_MAX:
        return first_line[: LICENSE_SHORT_MAX - 1].rstrip() + "…"
    if first_line != text:
        return first_line + " …"
    return text


def classifier_groups(package: Package) -> list[tuple[str, list[tuple[str, str]]]]:
    """Classifiers grouped by their top level, as pypi.org's sidebar lists them:
    ``[("License", [("License :: OSI Approved :: BSD License", "OSI Approved :: BSD
    License")]), ...]``."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for classifier in package.classifiers:
        top, _, rest = classifier.classifier.partition(" :: ")
        groups.setdefault(top, []).append((classifier.classifier, rest or top))
    return sorted(groups.items())


def is_web_url(url: str | None) -> bool:
    """Only http(s) links are shown: a ``javascript:`` URL must never become a link."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def project_links(package: Package) -> list[tuple[str, str]]:
    """(label, URL) pairs: the home page, then the project URLs, without duplicates."""
    links: list[tuple[str, str]] = []
    seen: set[str] = set()
    candidates = [("Homepage", package.homepage_url)]
    candidates += list((package.project_urls or {}).items())
    for label, url in candidates:
        if is_web_url(url) and url not in seen:
            seen.add(url)
            links.append((label, url.strip()))
    return links


@dataclass
class Person:
    """Someone named in the metadata (author/maintainer fields)."""

    role: str
    name: str | None
    email: str | None

    @property
    def mailto(self) -> str | None:
        # Only a single plain address becomes a link; lists stay text.
        email = (self.email or "").strip()
        if email.count("@") == 1 and not any(ch in email for ch in ",; <>\"'"):
            return f"mailto:{email}"
        return None

    @property
    def label(self) -> str:
        return self.name or self.email or ""


def metadata_people(package: Package) -> list[Person]:
    people = []
    for role, name, email in (
        ("Author", package.author, package.author_email),
        ("Maintainer", package.maintainer, package.maintainer_email),
    ):
        if name or email:
            people.append(Person(role, name, email))
    return people


def role_users(package: Package) -> list[tuple[User, str]]:
    """The package's users with their role, owners first."""
    roles = sorted(package.roles, key=lambda r: (r.role_name != OWNER, r.user.username_lower, r.id))
    return [(role.user, role.role_name) for role in roles]


@dataclass
class ReleasePage:
    """Everything the project and release pages show."""

    package: Package
    releases: list[Row]  # release_history's rows
    release: Release
    latest: Row | None
    files: list[ReleaseFile]
    description_html: str | None
    license: str | None
    classifier_groups: list[tuple[str, list[tuple[str, str]]]]
    links: list[tuple[str, str]]
    people: list[Person]
    users: list[tuple[User, str]] = field(default_factory=list)
    # The release page always pins its version; the project page pins only
    # when plain ``pip install <name>`` would not install what it shows.
    pinned: bool = False

    @property
    def source_files(self) -> list[ReleaseFile]:
        return [f for f in self.files if f.packagetype == "sdist"]

    @property
    def built_files(self) -> list[ReleaseFile]:
        return [f for f in self.files if f.packagetype != "sdist"]

    @property
    def is_latest(self) -> bool:
        return self.latest is not None and self.release.id == self.latest.id

    @property
    def pip_requirement(self) -> str:
        """What to type after ``pip install`` to get the release shown."""
        release = self.release
        if not self.pinned and self.is_latest and not release.is_prerelease and not release.yanked:
            return self.package.name
        return f"{self.package.name}=={self.release.version}"


def release_page(
    dbsession: Session,
    package: Package,
    releases: list[Row],
    shown: Row,
    pinned: bool = False,
) -> ReleasePage:
    release = release_by_id(dbsession, shown.id)
    # A release uploaded with its own description shows it; imported
    # releases carry the project's (PyPI's JSON describes the latest only).
    description = release.description
    if description is not None:
        content_type = release.description_content_type
    else:
        description = package.description
        content_type = package.description_content_type
    return ReleasePage(
        package=package,
        releases=releases,
        release=release,
        latest=choose_latest(releases),
        files=release_files(dbsession, release.id),
        description_html=render_description(description, content_type),
        license=license_summary(package),
        classifier_groups=classifier_groups(package),
        links=project_links(package),
        people=metadata_people(package),
        users=role_users(package),
        pinned=pinned,
    )


@dataclass
class NewRelease:
    name: str
    normalized_name: str
    version: str
    summary: str | None
    created: datetime.datetime


def newest_releases(dbsession: Session, limit: int = NEWEST_LIMIT) -> list[NewRelease]:
    """The most recently published releases (ix_releases_created), in one statement."""
    rows = dbsession.execute(
        select(
            Package.name,
            Package.normalized_name,
            Release.version,
            func.coalesce(Release.summary, Package.summary),
            Release.created,
        )
        .join(Package, Package.id == Release.package_id)
        .order_by(Release.created.desc(), Release.id.desc())
        .limit(limit)
    ).all()
    return [NewRelease(*row) for row in rows]


@dataclass
class NewPackage:
    name: str
    normalized_name: str
    summary: str | None
    created: datetime.datetime


def newest_packages(dbsession: Session, limit: int = NEWEST_LIMIT) -> list[NewPackage]:
    """The most recently created packages (ix_packages_created), in one statement."""
    rows = dbsession.execute(
        select(Package.name, Package.normalized_name, Package.summary, Package.created)
        .order_by(Package.created.desc(), Package.id.desc())
        .limit(limit)
    ).all()
    return [NewPackage(*row) for row in rows]
