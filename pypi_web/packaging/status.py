"""PEP 792 project status: what owners and admins mark a project, and what it stops.

Owners set ``archived`` (no more uploads: the project is done) or
``deprecated`` (still maintained, but not to be used for new work), or back
to ``active``; only admins set ``quarantined`` (suspected malware: no
uploads, no files listed or served) or lift it. The simple API carries the
status and its reason (API version 1.4).
"""

from __future__ import annotations

ACTIVE = "active"
ARCHIVED = "archived"
DEPRECATED = "deprecated"
QUARANTINED = "quarantined"
OWNER_STATUSES = (ACTIVE, ARCHIVED, DEPRECATED)
PEP_792_API_VERSION = "1.4"
MAX_REASON_LENGTH = 1000

# What an upload to such a project is told.
UPLOAD_REFUSALS = {
    ARCHIVED: "{name!r} is archived and does not accept new uploads. Its owners can "
    "unarchive it on the manage page.",
    QUARANTINED: "{name!r} is quarantined and does not accept uploads.",
}


class StatusError(ValueError):
    """A status that cannot be set; the message says why."""


def check(status: str, reason: str | None, *, admin: bool) -> tuple[str, str | None]:
    allowed = (*OWNER_STATUSES, QUARANTINED) if admin else OWNER_STATUSES
    if status not in allowed:
        raise StatusError(f"{status[:50]!r} is not one of {', '.join(allowed)}.")
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        raise StatusError(f"The reason must be {MAX_REASON_LENGTH} characters or fewer.")
    return status, reason


def upload_refusal(package) -> str | None:
    template = UPLOAD_REFUSALS.get(package.status) if package is not None else None
    return template.format(name=package.name) if template else None


def files_hidden(package) -> bool:
    return package is not None and package.status == QUARANTINED
