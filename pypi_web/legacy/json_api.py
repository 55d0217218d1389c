"""PyPI's JSON API: ``/pypi/<name>/json`` and ``/pypi/<name>/<version>/json``.

The shape is Warehouse's (``warehouse/legacy/api/json.py``): tools such as
Dependabot and bandersnatch read it, so keys are kept even where this index
has nothing to say (``downloads`` is -1, ``bugtrack_url`` null, as on PyPI).
A page is seven statements whatever the project's size: the package, its
classifiers and its roles, its release history, the release shown, and the
files (of every release, read as rows, or the shown release's).
"""

from __future__ import annotations

import json

from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import Row, select

from pypi_web.cache import PROJECT
from pypi_web.cache import headers as caching
from pypi_web.files import download_url
from pypi_web.models import Package, Release, ReleaseFile
from pypi_web.packaging import services as packaging_services
from pypi_web.packaging.resources import ProjectResource
from pypi_web.simple.services import upload_time_iso

NO_DOWNLOADS = {"last_day": -1, "last_week": -1, "last_month": -1}


# What a file's entry shows, read as columns: a project's document lists every
# file of every release, and an ORM instance costs many times a row.
FILE_COLUMNS = (
    ReleaseFile.release_id,
    ReleaseFile.filename,
    ReleaseFile.packagetype,
    ReleaseFile.python_version,
    ReleaseFile.requires_python,
    ReleaseFile.size,
    ReleaseFile.md5_digest,
    ReleaseFile.sha256_digest,
    ReleaseFile.blake2_256_digest,
    ReleaseFile.upload_time,
    ReleaseFile.comment_text,
    ReleaseFile.url,
    ReleaseFile.path,
    ReleaseFile.core_metadata_sha256_digest,
)


def _files_by_release(dbsession, package: Package) -> dict[int, list[Row]]:
    """Every file of the package (one statement), by release id, in page order."""
    rows = dbsession.execute(
        select(*FILE_COLUMNS)
        .join(Release, Release.id == ReleaseFile.release_id)
        .where(Release.package_id == package.id)
    )
    files: dict[int, list[Row]] = {}
    for row in rows:
        files.setdefault(row.release_id, []).append(row)
    return {
        release_id: packaging_services.in_page_order(found) for release_id, found in files.items()
    }


def file_dict(request, prefix: str, release: Release | Row, f: ReleaseFile | Row) -> dict:
    # One isoformat for both fields: "2026-08-01T12:00:00.123456Z" and its first 19 characters.
    upload_time = upload_time_iso(f.upload_time)
    return {
        "comment_text": f.comment_text,
        "core-metadata": {"sha256": f.core_metadata_sha256_digest}
        if f.core_metadata_sha256_digest
        else False,
        "digests": {
            "blake2b_256": f.blake2_256_digest,
            "md5": f.md5_digest,
            "sha256": f.sha256_digest,
        },
        "downloads": -1,
        "filename": f.filename,
        "has_sig": False,
        "md5_digest": f.md5_digest,
        "packagetype": f.packagetype,
        "python_version": f.python_version,
        "requires_python": f.requires_python,
        "size": f.size,
        "upload_time": upload_time[:19],
        "upload_time_iso_8601": upload_time,
        "url": download_url(prefix, f.url, f.path),
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason,
    }


def info_dict(request, package: Package, release: Release) -> dict:
    project_urls = package.project_urls or None
    return {
        "author": package.author,
        "author_email": package.author_email,
        "bugtrack_url": None,
        "classifiers": [c.classifier for c in package.classifiers],
        "description": release.description or "",
        "description_content_type": release.description_content_type,
        "docs_url": None,
        "download_url": (project_urls or {}).get("Download"),
        "downloads": dict(NO_DOWNLOADS),
        "dynamic": release.dynamic or None,
        "home_page": package.homepage_url,
        "keywords": package.keywords,
        "license": package.license,
        "license_expression": release.license_expression,
        "license_files": release.license_files or None,
        "maintainer": package.maintainer,
        "maintainer_email": package.maintainer_email,
        "name": package.name,
        "package_url": request.route_url("project", name=package.normalized_name),
        "platform": None,
        "project_url": request.route_url("project", name=package.normalized_name),
        "project_urls": project_urls,
        "provides_extra": release.provides_extra or None,
        "release_url": request.route_url(
            "release", name=package.normalized_name, version=release.version
        ),
        "requires_dist": release.requires_dist or None,
        "requires_python": release.requires_python,
        "summary": release.summary,
        "version": release.version,
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason,
    }


def _json_response(request, package: Package, release_id: int | None, build) -> Response:
    serial = package.last_serial
    moment = caching.package_serial_time(request.dbsession, package) or package.created
    etag = f"{serial}-json" + (f"-r{release_id}" if release_id is not None else "")
    headers = caching.cache_headers(serial, etag, moment)
    unchanged = caching.not_modified(request, etag, moment, headers)
    if unchanged is not None:
        return unchanged
    body = json.dumps(build(), ensure_ascii=False, sort_keys=True) + "\n"
    response = Response(body=body.encode("utf-8"), content_type="application/json")
    response.headers.update(headers)
    return response


def _document(request, package: Package, shown: Row, releases: list[Row] | None) -> dict:
    """The project's document (``releases``: its release history) or, without
    ``releases``, the document of the release ``shown`` (a release_history row)."""
    prefix = request.route_url("file", subpath="")
    release = packaging_services.release_by_id(request.dbsession, shown.id)
    if releases is None:
        files = {release.id: packaging_services.in_page_order(release.files)}
    else:
        files = _files_by_release(request.dbsession, package)
    roles = packaging_services.role_users(package)
    document = {
        "info": info_dict(request, package, release),
        "last_serial": package.last_serial,
        "ownership": {
            "organization": None,
            "roles": [{"role": role, "user": user.username} for user, role in roles],
        },
        "urls": [file_dict(request, prefix, release, f) for f in files.get(release.id, [])],
        "vulnerabilities": [],
    }
    if releases is not None:
        # Oldest first, as PyPI lists them.
        document["releases"] = {
            r.version: [file_dict(request, prefix, r, f) for f in files.get(r.id, [])]
            for r in reversed(releases)
        }
    return document


@view_config(route_name="json_project", request_method="GET")
def json_project(request):
    package = request.context.package

    def build():
        releases = packaging_services.release_history(request.dbsession, package.id)
        latest = packaging_services.choose_latest(releases)
        if latest is None:
            raise HTTPNotFound(f"The project {package.name!r} has no releases.")
        return _document(request, package, latest, releases)

    return _json_response(request, package, None, build)


@view_config(route_name="json_release", request_method="GET")
def json_release(request):
    version = request.matchdict["version"]
    package = request.context.package
    releases = packaging_services.release_history(request.dbsession, package.id)
    release = packaging_services.find_release(releases, version)
    if release is None:
        raise HTTPNotFound(f"The project {package.name!r} has no release {version!r}.")
    request.context.redirect_to_canonical(version=release.version)
    return _json_response(
        request, package, release.id, lambda: _document(request, package, release, None)
    )


def includeme(config):
    config.add_route("json_project", "/pypi/{name}/json", factory=ProjectResource)
    config.add_route("json_release", "/pypi/{name}/{version}/json", factory=ProjectResource)
    config.cache_pages("json_project", depends_on=PROJECT)
    config.cache_pages("json_release", depends_on=PROJECT)
