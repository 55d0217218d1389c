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

# Projects that take no uploads. pypi.org takes the upload permission away from an
# archived project's owners, so an upload is refused with its words for a missing
# permission (pypi_web.legacy.upload); quarantined ones are refused the same way.
REFUSES_UPLOADS = (ARCHIVED, QUARANTINED)


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


def refuses_uploads(package) -> bool:
    return package is not None and package.status in REFUSES_UPLOADS


def files_hidden(package) -> bool:
    return package is not None and package.status == QUARANTINED
