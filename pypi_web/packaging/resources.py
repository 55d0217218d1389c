"""The project a URL names: one lookup behind every ``{name}`` route.

``/project/{name}/...``, ``/simple/{name}/``, ``/pypi/{name}/.../json`` and
``/manage/project/{name}/...`` all use a :class:`ProjectResource` as their
route factory (their ``request.context``): the name is checked (an invalid
or overlong one is a 404 without a query), the project is looked up (404
when there is none), and a GET for a spelling other than the normalized
name is answered with a 301 to it. The resource's ``__acl__`` is the
project's (``Package.__acl__``), so views declare ``permission=``.
"""

from __future__ import annotations

from pyramid.httpexceptions import HTTPMovedPermanently, HTTPNotFound

from pypi_web.packaging import services
from pypi_web.packaging.names import MAX_NAME_LENGTH, is_valid_name, normalize
from pypi_web.upstream import rules as upstream_rules

# Longer versions cannot be stored (String(100)).
MAX_VERSION_LENGTH = 100


class ProjectResource:
    """The project named by the route's ``{name}``, with its roles' permissions."""

    # Load the classifiers and roles (with their users) the project pages show.
    load_details = True

    def __init__(self, request):
        self.request = request
        name = request.matchdict["name"]
        if len(name) > MAX_NAME_LENGTH or not is_valid_name(name):
            # No stored project has such a name: answer without a query.
            raise HTTPNotFound(f"{name[:100]!r} is not a valid project name.")
        if len(request.matchdict.get("version") or "") > MAX_VERSION_LENGTH:
            raise HTTPNotFound("There is no release with so long a version.")
        self.normalized_name = normalize(name)
        self.package = services.package_by_normalized_name(
            request.dbsession, self.normalized_name, details=self.load_details
        )
        if self.package is None and not self.may_be_missing():
            raise HTTPNotFound(f"There is no project named {name!r}.")
        # A release's canonical version is known once the view has found it.
        if "version" not in request.matchdict:
            self.redirect_to_canonical()

    def may_be_missing(self) -> bool:
        """Whether a project that is not stored here is still answered (an upstream's)."""
        return False

    @property
    def __acl__(self):
        return self.package.__acl__() if self.package is not None else []

    @property
    def forbidden_detail(self) -> str:
        return f"Only the owners of {self.package.name} can manage it."

    def redirect_to_canonical(self, **canonical: str) -> None:
        """Raise a 301 to this route with the normalized name (and ``canonical`` values).

        Only for reads: a form posted to another spelling still does its work.
        """
        if self.request.method not in ("GET", "HEAD"):
            return
        wanted = {"name": self.normalized_name, **canonical}
        if any(self.request.matchdict.get(key) != value for key, value in wanted.items()):
            # The query string is kept (?format= on the simple API).
            raise HTTPMovedPermanently(self.request.current_route_url(**wanted))


class LeanProjectResource(ProjectResource):
    """The project alone (the simple API and the owners' pages load what they show)."""

    load_details = False


class ProjectPageResource(ProjectResource):
    """A project's page: also answered for an upstream's project cached here (as mirrored)."""

    def may_be_missing(self) -> bool:
        return upstream_rules.uses_upstream(self.request.upstreams, None)
