"""The release history of the project and release pages, as HTML made in one pass.

A project may have thousands of releases; built by the template, the list
(a route URL, two dates and four conditions per release) was most of the
page's time. The markup is the template's (templates/packaging/detail.pt).
"""

from __future__ import annotations

from pyramid.traversal import PATH_SAFE, quote_path_segment
from sqlalchemy import Row

from pypi_web.models import Package
from pypi_web.templating import escape_attribute, escape_text

from .rendering import iso, short_date

INDENT = "\n              "


def timeline_html(request, package: Package, releases: list[Row], shown_id: int) -> str:
    """The ``<li>`` of every release (release_history's rows), newest first;
    ``shown_id`` is the page's release."""
    # The release route is the project's URL and the version: quoted as the route would.
    prefix = request.route_path("project", name=package.normalized_name)
    items = []
    # Unpacked in HISTORY_COLUMNS' order: a tuple costs less than eight attribute reads.
    for release_id, version, _, is_prerelease, _, created, yanked, yanked_reason in releases:
        classes = "release"
        inner = ""
        if release_id == shown_id:
            classes += " release-current"
            inner += f'{INDENT}<span class="badge badge-current">this version</span>'
        if is_prerelease:
            inner += f'{INDENT}<span class="badge badge-pre">pre-release</span>'
        if yanked:
            classes += " release-yanked"
            inner += f'{INDENT}<span class="badge badge-yanked">yanked</span>'
        href = escape_attribute(prefix + quote_path_segment(version, safe=PATH_SAFE) + "/")
        inner += (
            f'{INDENT}<time class="release-date" datetime="{iso(created)}">'
            f"{short_date(created)}</time>"
        )
        if yanked and yanked_reason:
            inner += (
                f'{INDENT}<span class="yanked-reason">Reason: {escape_text(yanked_reason)}</span>'
            )
        items.append(
            f'            <li class="{classes}">{INDENT}<a class="release-version" href="{href}">'
            f"{escape_text(version)}</a>{inner}\n            </li>\n"
        )
    return "".join(items)
