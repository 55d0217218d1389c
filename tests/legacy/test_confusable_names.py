"""A new project may not look like an existing one (PyPI's "ultranormalized" names)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from pypi_web.accounts import services as accounts
from pypi_web.models import Package

from ..conftest import run_at_once
from .conftest import basic_auth, make_sdist, upload_fields

TOO_SIMILAR = (
    "The name '{}' is too similar to an existing project. "
    "See https://pypi.org/help/#project-name for more information."
)


def _packages_named(dbsession, name: str) -> int:
    return dbsession.scalar(select(func.count(Package.id)).where(Package.name == name))


@pytest.mark.parametrize(
    "name", ["r-e-q-u-e-s-t-s", "urlIib3", "S-I-X", "set-up-tools", "URL_Lib3"]
)
def test_a_name_resembling_an_existing_project_is_refused(post_upload, dbsession, name):
    response = post_upload(*make_sdist(name, "1.0"), name=name, version="1.0")
    assert response.status_int == 400
    assert response.text.strip() == TOO_SIMILAR.format(name)
    assert _packages_named(dbsession, name) == 0


def test_a_name_like_no_other_is_accepted(post_upload, dbsession):
    response = post_upload(*make_sdist("reqwests", "1.0"), name="reqwests", version="1.0")
    assert response.status_int == 200
    assert _packages_named(dbsession, "reqwests") == 1


def test_the_database_refuses_a_second_look_alike(dbsession):
    dbsession.add(Package(name="Wobble", normalized_name="wobble"))
    dbsession.flush()
    dbsession.add(Package(name="w0bb-le", normalized_name="w0bb-le"))
    with pytest.raises(IntegrityError):
        dbsession.flush()


def _upload(client, secret: str, name: str):
    filename, content = make_sdist(name, "1.0")
    return client.post(
        "/legacy/",
        params=upload_fields(name, "1.0", filename, content),
        upload_files=[("content", filename, content)],
        headers=basic_auth(accounts.TOKEN_USERNAME, secret),
        expect_errors=True,
    )


def test_two_look_alikes_created_at_once_one_wins(committing_site):
    site = committing_site
    user = site.make_user("racer")
    with site.session() as session:
        _, secret = accounts.create_api_token(session, session.merge(user), "race")
        session.commit()
    for round_number in range(4):
        names = (f"wobble{round_number}", f"w0bb1e-{round_number}")
        clients = (site.client(), site.client())
        results = run_at_once(
            *(lambda c=c, n=n: _upload(c, secret, n) for c, n in zip(clients, names, strict=True))
        )
        statuses = sorted(r.status_int for r in results)
        assert statuses == [200, 400], f"round {round_number}: {[r.text for r in results]}"
        loser = next(r for r, n in zip(results, names, strict=True) if r.status_int == 400)
        assert "is too similar to an existing project" in loser.text
        with site.session() as session:
            created = session.scalar(select(func.count(Package.id)).where(Package.name.in_(names)))
        assert created == 1
