"""Site-wide queries: the home page's counts and classifier browsing."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from pypi_web.models import Classifier, Package, Release, ReleaseFile, User, package_classifiers

# The classifier trees the browse page lists (the issue asks for these two).
BROWSE_TOP_LEVELS = ("License", "Programming Language")


def site_stats(dbsession: Session) -> dict[str, int]:
    """Counts of packages, releases, files and users, in one statement."""
    counts = dbsession.execute(
        select(
            select(func.count()).select_from(Package).scalar_subquery(),
            select(func.count()).select_from(Release).scalar_subquery(),
            select(func.count()).select_from(ReleaseFile).scalar_subquery(),
            select(func.count()).select_from(User).scalar_subquery(),
        )
    ).one()
    return dict(zip(("packages", "releases", "files", "users"), counts, strict=True))


class StatsCache:
    """The home page's counts, recomputed at most every ``max_age`` seconds.

    Counting whole tables costs time proportional to their size (Postgres has
    no cheap exact count), so a big index would pay it on every home page
    view; counts a minute old are fine there. ``max_age`` 0 counts every time.
    """

    def __init__(self, max_age: float):
        self.max_age = max_age
        self._lock = threading.Lock()
        self._value: dict[str, int] | None = None
        self._computed_at = 0.0

    def get(self, dbsession: Session) -> dict[str, int]:
        if self.max_age <= 0:
            return site_stats(dbsession)
        with self._lock:
            fresh = time.monotonic() - self._computed_at < self.max_age
            if self._value is None or not fresh:
                self._value = site_stats(dbsession)
                self._computed_at = time.monotonic()
            return self._value


def _prefix_range(top_level: str):
    # "X ::" <= classifier < "X :;" selects exactly the classifiers under X
    # (";" follows ":" in ASCII) and, unlike LIKE 'X ::%', is an index range
    # scan on the unique classifier index on both backends and any collation.
    return (Classifier.classifier >= f"{top_level} ::") & (
        Classifier.classifier < f"{top_level} :;"
    )


def classifier_counts(
    dbsession: Session, top_levels: tuple[str, ...] = BROWSE_TOP_LEVELS
) -> dict[str, list[tuple[str, int]]]:
    """For each top level, its classifiers in order with the number of packages using them.

    One statement: a UNION ALL of one index range per top level (an OR of
    the ranges makes SQLite scan package_classifiers instead). Classifiers
    no package uses are left out.
    """
    per_top_level = [
        select(
            Classifier.classifier.label("classifier"),
            func.count(package_classifiers.c.package_id).label("packages"),
        )
        .join(package_classifiers, package_classifiers.c.classifier_id == Classifier.id)
        .where(_prefix_range(top))
        .group_by(Classifier.id, Classifier.classifier)
        for top in top_levels
    ]
    rows = dbsession.execute(union_all(*per_top_level).order_by("classifier")).all()
    result: dict[str, list[tuple[str, int]]] = {top: [] for top in top_levels}
    for classifier, count in rows:
        result[classifier.split(" :: ", 1)[0]].append((classifier, count))
    return result
