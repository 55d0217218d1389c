"""What owners change on their projects: yanking releases, and who maintains them.

Every change is journalled (and so moves the project's serial and ETags) and
recorded in the audit log.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pypi_web import audit
from pypi_web.accounts.services import user_by_username
from pypi_web.models import MAINTAINER, OWNER, Package, Release, Role, User
from pypi_web.packaging import status as project_status
from pypi_web.packaging.journal import journal
from pypi_web.upstream import rules

MAX_REASON_LENGTH = 1000


class ManageError(ValueError):
    """A change that cannot be made; the message says why, for the owner."""


def role_of(dbsession: Session, package: Package, user: User | None) -> str | None:
    if user is None:
        return None
    return dbsession.scalar(
        select(Role.role_name).where(Role.package_id == package.id, Role.user_id == user.id)
    )


def _record_change(
    dbsession: Session,
    package: Package,
    user: User | None,
    ip_address: str | None,
    action: str,
    event_tag: str,
    *,
    additional: dict,
    version: str | None = None,
) -> None:
    """What an owner changed: a journal entry (it moves the serial) and an audit event."""
    journal(dbsession, package, action, version=version, user=user)
    audit.record(
        dbsession,
        event_tag,
        user=user,
        package_name=package.name,
        ip_address=ip_address,
        additional=additional,
    )


def yank(
    dbsession: Session, release: Release, reason: str, user: User, ip_address: str | None = None
) -> None:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise ManageError(f"The reason must be {MAX_REASON_LENGTH} characters or fewer.")
    if release.yanked:
        raise ManageError(f"Release {release.version} is already yanked.")
    release.yanked = True
    release.yanked_reason = reason or None
    package = release.package
    _record_change(
        dbsession,
        package,
        user,
        ip_address,
        "yank release",
        "package:yank",
        version=release.version,
        additional={"version": release.version, "reason": release.yanked_reason},
    )


def unyank(dbsession: Session, release: Release, user: User, ip_address: str | None = None) -> None:
    if not release.yanked:
        raise ManageError(f"Release {release.version} is not yanked.")
    release.yanked = False
    release.yanked_reason = None
    package = release.package
    _record_change(
        dbsession,
        package,
        user,
        ip_address,
        "unyank release",
        "package:unyank",
        version=release.version,
        additional={"version": release.version},
    )


def add_maintainer(
    dbsession: Session,
    package: Package,
    username: str,
    user: User,
    role_name: str = MAINTAINER,
    ip_address: str | None = None,
) -> Role:
    if role_name not in (OWNER, MAINTAINER):
        raise ManageError(f"Unknown role {role_name!r}.")
    other = user_by_username(dbsession, (username or "").strip())
    if other is None or not other.is_active:
        raise ManageError(f"There is no user named {username.strip()!r}.")
    if role_of(dbsession, package, other) is not None:
        raise ManageError(f"{other.username} already has a role on {package.name}.")
    role = Role(user=other, package=package, role_name=role_name)
    dbsession.add(role)
    _record_change(
        dbsession,
        package,
        user,
        ip_address,
        f"add {role_name} {other.username}",
        "package:role_added",
        additional={"username": other.username, "role": role_name},
    )
    dbsession.flush()
    return role


def _lock_owners(dbsession: Session, package: Package) -> set[int]:
    """The ids of the project's owners, read under the project's row lock.

    Two owners removing each other at once would each count two owners and
    both succeed. Locking the package row first (Postgres) makes role changes
    on one project take turns, and the count is read after the other change
    committed. SQLite ignores FOR UPDATE: its writing requests begin with
    BEGIN IMMEDIATE (models.writer_engine), so they already take turns.
    """
    dbsession.execute(select(Package.id).where(Package.id == package.id).with_for_update())
    return set(
        dbsession.scalars(
            select(Role.user_id).where(Role.package_id == package.id, Role.role_name == OWNER)
        )
    )


def remove_role(
    dbsession: Session, package: Package, role: Role, user: User, ip_address: str | None = None
) -> None:
    if role.package_id != package.id:
        raise ManageError("That role is not on this project.")
    owners = _lock_owners(dbsession, package)
    if user.id not in owners:
        raise ManageError(f"You are no longer an owner of {package.name}.")
    if dbsession.scalar(select(Role.id).where(Role.id == role.id)) is None:
        raise ManageError("That role has already been removed.")
    if role.role_name == OWNER and len(owners) <= 1:
        raise ManageError("A project must keep at least one owner.")
    username = role.user.username
    dbsession.delete(role)
    _record_change(
        dbsession,
        package,
        user,
        ip_address,
        f"remove {role.role_name} {username}",
        "package:role_removed",
        additional={"username": username, "role": role.role_name},
    )
    dbsession.flush()


def set_index_rules(
    dbsession: Session,
    package: Package,
    form: dict[str, str],
    user: User,
    ip_address: str | None = None,
) -> None:
    """The upstream mode and PEP 708's tracks and alternate locations, from the manage form."""
    try:
        mode = rules.check_mode(form.get("upstream_mode", rules.LOCAL_ONLY))
        tracks = rules.parse_urls(form.get("tracks", ""), "tracks")
        alternates = rules.parse_urls(form.get("alternate_locations", ""), "alternate locations")
    except rules.RuleError as exc:
        raise ManageError(str(exc)) from None
    package.upstream_mode = mode
    package.tracks = tracks
    package.alternate_locations = alternates
    _record_change(
        dbsession,
        package,
        user,
        ip_address,
        f"set upstream mode {mode}",
        "package:index-rules",
        additional={"upstream_mode": mode, "tracks": tracks, "alternate_locations": alternates},
    )


def set_status(
    dbsession: Session,
    package: Package,
    status: str,
    reason: str | None,
    user: User | None,
    *,
    admin: bool = False,
    ip_address: str | None = None,
) -> None:
    """PEP 792: owners set active, archived or deprecated; admins also quarantined.

    A quarantined project stays so until an admin lifts it: its owners cannot.
    """
    if package.status == project_status.QUARANTINED and not admin:
        raise ManageError(f"{package.name} is quarantined: only an admin can change its status.")
    try:
        status, reason = project_status.check(status, reason, admin=admin)
    except project_status.StatusError as exc:
        raise ManageError(str(exc)) from None
    package.status, package.status_reason = status, reason
    _record_change(
        dbsession,
        package,
        user,
        ip_address,
        f"set status {status}",
        "package:status",
        additional={"status": status, "reason": reason, "admin": admin},
    )
