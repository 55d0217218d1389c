"""Compiling every page template before the first request.

Chameleon compiles a template on its first render. Two threads compiling the
same template at once can fail (seen under load as ``SystemError: AST
constructor recursion depth mismatch`` on Python 3.11), answering 500 to the
first requests of a process. Compiling them all at start-up, before waitress
starts its threads, removes the race; it costs a second or two per process.
"""

from __future__ import annotations

from pathlib import Path

from pyramid.renderers import get_renderer

TEMPLATES = Path(__file__).resolve().parent / "templates"


def precompile_templates(registry) -> int:
    count = 0
    for path in sorted(TEMPLATES.rglob("*.pt")):
        spec = "pypi_web:" + path.relative_to(TEMPLATES.parent).as_posix()
        get_renderer(spec, registry=registry).implementation().cook_check()
        count += 1
    return count
