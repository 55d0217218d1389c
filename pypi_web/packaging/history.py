"""The release history of the project and release pages, as HTML made in one pass.

A project may have thousands of releases; built by the template, the list
(a route URL, two dates and four conditions per release) was most of the
page's time. The markup is the template's (templates/packaging/detail.pt).
"""

from __future__ import annotations

from pyramid.traversal import PATH_SAFE, quote_path_segment

from pypi_web.models import Package, Release
from pypi_web.templating import escape_attribute, escape_text

from .rendering import iso, short_date

INDENT = "\n              "


def timeline_html(request, package: Package, releases: list[Release], shown: Release) -> str:
    """The ``<li>`` of every release, newest first; ``shown`` is the page's release."""
    # The release route is the project's URL and the version: quoted as the route would.
    prefix = request.route_path("project", name=package.normalized_name)
    items = []
    for item in releases:
        current = item.id == shown.id
        classes = "release" + (" release-current" if current else "")
        inner = ""
        if current:
            inner += f'{INDENT}<span class="badge badge-current">this version</span>'
        if item.is_prerelease:
            inner += f'{INDENT}<span class="badge badge-pre">pre-release</span>'
        if item.yanked:
            classes += " release-yanked"
            inner += f'{INDENT}<span class="badge badge-yanked">yanked</span>'
        href = escape_attribute(prefix + quote_path_segment(item.version, safe=PATH_SAFE) + "/")
        inner += (
            f'{INDENT}<time class="release-date" datetime="{iso(item.created)}">'
            f"{short_date(item.created)}</time>"
        )
        if item.yanked and item.yanked_reason:
            reason = escape_text(item.yanked_reason)
            inner += f'{INDENT}<span class="yanked-reason">Reason: {reason}</span>'
        items.append(
            f'            <li class="{classes}">{INDENT}<a class="release-version" href="{href}">'
            f"{escape_text(item.version)}</a>{inner}\n            </li>\n"
        )
    return "".join(items)
