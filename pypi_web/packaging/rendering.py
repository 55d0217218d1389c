"""Project descriptions rendered to sanitised HTML, and small display helpers.

readme_renderer is what PyPI itself uses: every renderer's output is cleaned
of scripts, event handlers and unsafe URLs before it reaches a page.
"""

from __future__ import annotations

import datetime
import functools
import re
from email.message import Message

import readme_renderer.markdown
import readme_renderer.rst
import readme_renderer.txt


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """``"text/markdown; variant=GFM"`` -> ``("text/markdown", {"variant": "GFM"})``."""
    if not value or not value.strip():
        return "", {}
    message = Message()
    message["content-type"] = value
    params = {k.lower(): v for k, v in message.get_params()[1:]}
    return message.get_content_type(), params


_HTTP_IMAGE = re.compile(r'(<img\b[^>]*?\bsrc=")http://', re.IGNORECASE)


@functools.lru_cache(maxsize=128)
def render_description(raw: str | None, content_type: str | None) -> str | None:
    """The description as safe HTML, or None when there is none.

    Chosen by content type as PyPI does: no content type means
    reStructuredText (the historical default); rst that fails to render
    (docutils errors, raw directives) falls back to plain text. Cached, since
    long descriptions (requests' is ~50 kB of rst) are costly to render and
    the same few are shown again and again.
    """
    if raw is None or not raw.strip():
        return None
    mime, params = parse_content_type(content_type)
    rendered: str | None
    if mime == "text/markdown":
        variant = params.get("variant", "GFM")
        if variant not in ("GFM", "CommonMark"):
            variant = "GFM"
        rendered = readme_renderer.markdown.render(raw, variant=variant)
    elif mime in ("", "text/x-rst"):
        rendered = readme_renderer.rst.render(raw)
    else:
        rendered = None
    if rendered is None:
        rendered = readme_renderer.txt.render(raw)
    # The site's CSP allows images over https only (pypi.org proxies them
    # instead); badge hosts serve https too, as a browser's upgrade would ask.
    return _HTTP_IMAGE.sub(r"\1https://", rendered)


def human_size(size: int) -> str:
    """Bytes in decimal units, as pypi.org shows them ("91.4 kB")."""
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            if unit == "bytes":
                return f"{int(value)} bytes"
            return f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


# English whatever the server's locale (strftime's %b is the locale's).
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def short_date(moment: datetime.datetime) -> str:
    """ "Apr 16, 2010" (the time element carries the exact ISO timestamp)."""
    return f"{MONTHS[moment.month - 1]} {moment.day}, {moment.year}"


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat()
