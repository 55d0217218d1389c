"""Compiling every page template before the first request; escaping as the templates do.

Chameleon compiles a template on its first render. Two threads compiling at
once can fail (seen under load as ``SystemError: AST constructor recursion
depth mismatch`` on Python 3.11), answering 500 to the first requests of a
process. Compiling them all at start-up, before waitress starts its threads,
removes the race; it costs a second or two per process.

That includes the layout each page pulls in with ``use-macro="load: ../layout.pt"``:
Chameleon gives every template its own loader, and the layout instance a page
loads is not the one ``get_renderer`` returns, so it is compiled through that
page's loader too.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from pyramid.renderers import get_renderer

TEMPLATES = Path(__file__).resolve().parent / "templates"
# The text after "load:" exactly as Chameleon passes it (the loader caches by it).
LOAD_EXPRESSION = re.compile(r"""load:([^"']+)""")
_NEEDS_ESCAPE = re.compile('[&<>"]').search


# Long lists (a simple page's thousands of links, a release history) are built in
# Python: the template language's per-item lookups were most of such a page's time.
# These escape as Chameleon does: ``&<>`` in text, and ``"`` too in an attribute.
def escape_attribute(value: str) -> str:
    if _NEEDS_ESCAPE(value) is None:  # most values need nothing
        return value
    return escape(value, quote=False).replace('"', "&quot;")


def escape_text(value: str) -> str:
    return escape(value, quote=False)


def _cook(template, seen: set[int]) -> None:
    template.cook_check()
    for spec in LOAD_EXPRESSION.findall(Path(template.filename).read_text(encoding="utf-8")):
        # The very instance (cached in this template's loader) a render would use.
        loaded = template._loader(spec)
        if id(loaded) not in seen:
            seen.add(id(loaded))
            _cook(loaded, seen)


def precompile_templates(registry) -> int:
    count = 0
    seen: set[int] = set()
    for path in sorted(TEMPLATES.rglob("*.pt")):
        spec = "pypi_web:" + path.relative_to(TEMPLATES.parent).as_posix()
        _cook(get_renderer(spec, registry=registry).implementation(), seen)
        count += 1
    return count
