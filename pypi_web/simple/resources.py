"""The project a ``/simple/{name}/`` URL names, here or on an upstream index."""

from __future__ import annotations

from pypi_web.packaging.resources import LeanProjectResource
from pypi_web.upstream import rules as upstream_rules


class SimpleProjectResource(LeanProjectResource):
    """A project of this index, or one an upstream index serves (pypi_web.upstream)."""

    def may_be_missing(self) -> bool:
        return upstream_rules.uses_upstream(self.request.upstreams, None)
