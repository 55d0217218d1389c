from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pypi_web.models import Package, Release, ReleaseFile, User


def site_stats(dbsession: Session) -> dict[str, int]:
    counts = dbsession.execute(
        select(
            select(func.count()).select_from(Package).scalar_subquery(),
            select(func.count()).select_from(Release).scalar_subquery(),
            select(func.count()).select_from(ReleaseFile).scalar_subquery(),
            select(func.count()).select_from(User).scalar_subquery(),
        )
    ).one()
    return dict(zip(("packages", "releases", "files", "users"), counts, strict=True))
