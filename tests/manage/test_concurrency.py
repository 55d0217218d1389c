"""Changes to a project's roles sent at the same moment, each request committing on its own."""

from __future__ import annotations

from sqlalchemy import select

from pypi_web.models import OWNER, Package, Role

from ..accounts.helpers import csrf_token, log_in
from ..conftest import run_at_once

NAME = "contested"
ROUNDS = 6


def _project_with_two_owners(site, round_number: int) -> tuple[str, dict[str, int]]:
    name = f"{NAME}-{round_number}"
    with site.session() as session:
        package = Package(name=name, normalized_name=name, last_serial=0)
        session.add(package)
        users = {u: site.make_user(f"{u}{round_number}") for u in ("ann", "bob")}
        roles = {
            u: Role(user_id=user.id, package=package, role_name=OWNER) for u, user in users.items()
        }
        session.add_all(roles.values())
        session.commit()
        return name, {u: role.id for u, role in roles.items()}


def _owners(site, name: str) -> list[int]:
    with site.session() as session:
        return session.scalars(
            select(Role.user_id).join(Package).where(Package.name == name, Role.role_name == OWNER)
        ).all()


def _remove_each_other_at_once(site, round_number: int) -> tuple[str, list]:
    name, role_ids = _project_with_two_owners(site, round_number)
    clients, tokens = {}, {}
    for user in ("ann", "bob"):
        clients[user] = site.client()
        assert log_in(clients[user], f"{user}{round_number}").status_int == 303
        tokens[user] = csrf_token(clients[user].get(f"/manage/project/{name}/"))

    def remove(user, other):
        url = f"/manage/project/{name}/roles/{role_ids[other]}/remove/"
        return clients[user].post(url, {"csrf_token": tokens[user]}, expect_errors=True)

    return name, run_at_once(lambda: remove("ann", "bob"), lambda: remove("bob", "ann"))


def test_two_owners_removing_each_other_at_once_leave_one_owner(committing_site):
    for round_number in range(ROUNDS):
        name, results = _remove_each_other_at_once(committing_site, round_number)
        statuses = sorted(r.status_int for r in results)
        assert len(_owners(committing_site, name)) == 1, f"round {round_number}: {statuses}"
        assert statuses[0] == 303, f"round {round_number}: {statuses}"
        refused = next(r for r in results if r.status_int != 303)
        assert refused.status_int in (400, 403, 409), refused.status
        assert "owner" in refused.text.lower(), refused.text
