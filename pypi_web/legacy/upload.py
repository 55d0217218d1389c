"""``POST /legacy/``: the upload API twine speaks (Warehouse's "forklift").

Checks run in Warehouse's order, with its messages, so that twine shows the
same reasons it shows for PyPI: credentials, then the form's metadata, then
the permission on the project, then the file itself. Every refusal is a 4xx
whose reason is in the HTTP status line (twine prints it) and the body;
twine retries a 5xx, so nothing a client sends may cause one.

Nothing is half-written: the file is spooled to a temporary file while it is
hashed, the rows are flushed, and only then is the file renamed into place;
a transaction that does not commit takes the file away again
(``pypi_web.files.StoredUpload``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import logging
from dataclasses import dataclass

from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.httpexceptions import (
    HTTPBadRequest,
    HTTPException,
    HTTPForbidden,
    HTTPGone,
    HTTPTooManyRequests,
    HTTPUnauthorized,
)
from pyramid.response import Response
from pyramid.view import view_config
from pyramid_retry import mark_error_retryable
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from pypi_web import audit
from pypi_web.accounts import services as accounts
from pypi_web.accounts import throttle
from pypi_web.files import METADATA_SUFFIX, FileTooLarge, Received, StoredUpload, storage_path
from pypi_web.models import (
    OWNER,
    UPLOAD,
    ApiToken,
    Classifier,
    Package,
    Release,
    ReleaseFile,
    Role,
    User,
    utcnow,
)
from pypi_web.packaging import services as packaging_services
from pypi_web.packaging import status as project_status
from pypi_web.packaging import writer
from pypi_web.packaging.journal import journal, refresh_last_updated

from . import distributions, metadata
from .metadata import UploadMetadata

log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024
REALM = 'Basic realm="pypi_web", charset="UTF-8"'
BAD_CREDENTIALS = "Invalid or non-existent authentication information."


class UploadRefused(Exception):
    def __init__(self, response: HTTPException):
        super().__init__(response.status)
        self.response = response


def refusal(
    exc_class: type[HTTPException], message: str, headers: dict[str, str] | None = None
) -> HTTPException:
    """An error response with ``message`` as its status line's reason, as Warehouse does.

    The status line is Latin-1 on the wire; other characters become "?".
    """
    response = exc_class(
        body=message + "\n", content_type="text/plain", charset="utf-8", headers=headers
    )
    reason = message.replace("\r", " ").replace("\n", " ")
    response.status = f"{response.code} {reason.encode('latin-1', 'replace').decode('latin-1')}"
    return response


def refuse(exc_class, message):
    raise UploadRefused(refusal(exc_class, message))


# ---- credentials ----


@dataclass
class Uploader:
    user: User
    token: ApiToken | None = None


def authenticate(request) -> Uploader | HTTPException:
    """The uploader named by HTTP Basic credentials, or the response refusing them."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return refusal(
            HTTPUnauthorized,
            f"{BAD_CREDENTIALS} Log in with a username and password, or with username "
            f"'{accounts.TOKEN_USERNAME}' and an API token as the password.",
            {"WWW-Authenticate": REALM},
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return refusal(HTTPForbidden, f"{BAD_CREDENTIALS} The Authorization header is malformed.")
    username, _, password = decoded.partition(":")
    dbsession = request.dbsession
    if username == accounts.TOKEN_USERNAME:
        token = accounts.token_for_secret(dbsession, password)
        if token is None:
            return refusal(
                HTTPForbidden, "Invalid API Token: the token is unknown or has been revoked."
            )
        return Uploader(token.user, token)
    address = request.client_address
    refused = throttle.reserve(dbsession, username, address)
    if refused is not None:
        return refusal(HTTPTooManyRequests, refused)
    user = accounts.check_password(dbsession, username, password) if password else None
    if user is None:
        # Counted as a failed login: the password throttle covers uploads too.
        audit.record(dbsession, throttle.LOGIN_FAILED, username=username, ip_address=address)
        return refusal(HTTPForbidden, f"{BAD_CREDENTIALS} The username or password is wrong.")
    throttle.succeeded(dbsession, username, address)
    return Uploader(user)


# ---- the form's metadata ----


def _value(form, key: str) -> str | None:
    value = form.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _check_length(field_name: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        refuse(HTTPBadRequest, f"'{field_name}' must be {limit} characters or fewer.")


def parse_metadata(form) -> UploadMetadata:
    for key, value in form.items():
        if isinstance(value, str) and "\x00" in value:
            refuse(HTTPBadRequest, f"The field {key!r} contains a NUL character.")
    try:
        return metadata.parse_form(form)
    except metadata.MetadataError as error:
        refuse(HTTPBadRequest, str(error))


# ---- the file ----


@dataclass
class UploadFile:
    filename: str
    filetype: str
    python_version: str
    stream: io.BufferedIOBase


def parse_file_fields(form, meta: UploadMetadata) -> UploadFile:
    filetype = _value(form, "filetype") or ""
    if filetype not in distributions.EXTENSIONS:
        refuse(HTTPBadRequest, "Invalid value for filetype. Error: Use a known file type.")
    pyversion = _value(form, "pyversion") or ""
    if filetype == "sdist" and pyversion not in ("", "source"):
        refuse(
            HTTPBadRequest,
            "Invalid value for pyversion. Error: Use 'source' as Python version for an sdist.",
        )
    if filetype == "bdist_wheel" and not pyversion:
        refuse(
            HTTPBadRequest,
            "Invalid value for pyversion. Error: Python version is required for binary "
            "distribution uploads.",
        )
    _check_length("pyversion", pyversion, 64)

    content = form.get("content")
    if content is None or isinstance(content, str) or not getattr(content, "filename", None):
        refuse(HTTPBadRequest, "Upload payload does not have a file.")
    filename = content.filename
    _check_length("filename", filename, 255)
    try:
        distributions.check_filename(filename, filetype, meta)
    except distributions.DistributionError as error:
        refuse(HTTPBadRequest, str(error))
    python_version = "source" if filetype == "sdist" else pyversion
    # A retried request (pyramid_retry) is handed the form its first attempt parsed,
    # whose file that attempt read to the end.
    content.file.seek(0)
    return UploadFile(filename, filetype, python_version, content.file)


def check_digests(form, received: Received) -> None:
    given = {
        "md5_digest": (form.get("md5_digest") or "").strip().lower(),
        "sha256_digest": (form.get("sha256_digest") or "").strip().lower(),
        "blake2_256_digest": (form.get("blake2_256_digest") or "").strip().lower(),
    }
    if not any(given.values()):
        refuse(HTTPBadRequest, "Include at least one message digest.")
    actual = {
        "md5_digest": received.md5,
        "sha256_digest": received.sha256,
        "blake2_256_digest": received.blake2_256,
    }
    for key, value in given.items():
        if value and not hmac.compare_digest(value, actual[key]):
            refuse(
                HTTPBadRequest,
                "The digest supplied does not match a digest calculated from the uploaded file.",
            )


def check_distribution(upload: UploadFile, received: Received, meta: UploadMetadata):
    """The wheel's METADATA (None for an sdist); 400 when the archive is refused."""
    try:
        return distributions.check_archive(
            received.temp_path, upload.filename, upload.filetype, meta
        )
    except distributions.DistributionError as error:
        log.info("invalid distribution %s: %s", upload.filename, error)
        refuse(HTTPBadRequest, str(error))


# ---- permissions and storing ----


def check_permission(dbsession, uploader: Uploader, package: Package | None, name: str) -> None:
    token = uploader.token
    if (
        token is not None
        and token.package_id is not None
        and (package is None or token.package_id != package.id)
    ):
        refuse(HTTPForbidden, f"The given token isn't allowed to upload to project {name!r}.")
    if package is None:
        return
    # Basic credentials, not the session: the uploader's principals, the project's ACL.
    principals = [Everyone, Authenticated, f"user:{uploader.user.id}"]
    if not ACLHelper().permits(package, principals, UPLOAD):
        refuse(
            HTTPForbidden,
            f"The user {uploader.user.username!r} isn't allowed to upload to project "
            f"{package.name!r}.",
        )


def _set_package_metadata(dbsession, package: Package, meta: UploadMetadata) -> None:
    """The project's page shows its newest release's metadata."""
    package.summary = meta.summary
    package.description = meta.description
    package.description_content_type = meta.description_content_type
    package.author = meta.author
    package.author_email = meta.author_email
    package.maintainer = meta.maintainer
    package.maintainer_email = meta.maintainer_email
    package.license = meta.license
    package.keywords = meta.keywords
    package.homepage_url = meta.home_page
    package.project_urls = meta.project_urls or None
    package.requires_python = meta.requires_python
    known = {
        c.classifier: c
        for c in dbsession.scalars(
            select(Classifier).where(Classifier.classifier.in_(meta.classifiers))
        )
    }
    for classifier in meta.classifiers:
        if classifier not in known:
            known[classifier] = Classifier(classifier=classifier)
            dbsession.add(known[classifier])
    package.classifiers = [known[c] for c in sorted(meta.classifiers)]


def _max_upload_bytes(request) -> int:
    return int(request.registry.settings.get("upload.max_bytes", DEFAULT_MAX_UPLOAD_BYTES))


def ok(message: str = "") -> Response:
    return Response(body=message.encode("utf-8"), content_type="text/plain", charset="utf-8")


def handle_upload(request) -> Response:
    form = request.POST
    action = form.get(":action")
    if action in ("submit", "submit_pkg_info", "doc_upload"):
        refuse(HTTPGone, f"The {action!r} action is no longer supported; upload files instead.")
    if action != "file_upload":
        refuse(HTTPBadRequest, f"Unknown :action {action!r}: only 'file_upload' is supported.")
    if form.get("protocol_version", "1") != "1":
        refuse(HTTPBadRequest, "Unknown protocol version.")

    dbsession = request.dbsession
    meta = parse_metadata(form)
    package = dbsession.scalars(
        select(Package).where(Package.normalized_name == meta.normalized_name)
    ).one_or_none()
    uploader = request.uploader
    check_permission(dbsession, uploader, package, meta.name)
    if project_status.refuses_uploads(package):
        # pypi.org's words: its archived projects' owners no longer hold the permission.
        refuse(
            HTTPForbidden,
            f"The user {uploader.user.username!r} isn't allowed to upload to project "
            f"{package.name!r}. See {request.route_url('project', name=package.normalized_name)}"
            " for more information.",
        )
    if package is None and packaging_services.resembled_project(dbsession, meta.name):
        # The unique ultranormalized_name settles a race: the loser's retry lands here.
        refuse(HTTPBadRequest, packaging_services.too_similar_message(meta.name))
    upload = parse_file_fields(form, meta)

    storage = request.file_storage
    max_bytes = _max_upload_bytes(request)
    try:
        received = storage.receive(upload.stream, max_bytes)
    except FileTooLarge:
        refuse(
            HTTPBadRequest,
            f"File too large. Limit for project {meta.name!r} is {max_bytes // (1024 * 1024)} MB.",
        )
    try:
        return _store_upload(request, meta, upload, received, package, uploader)
    finally:
        received.discard()


def _is_identical_again(dbsession, upload: UploadFile, received: Received) -> bool:
    """True for the very file already stored (a retried upload); 400 for another one."""
    existing = dbsession.scalars(
        select(ReleaseFile).where(ReleaseFile.filename == upload.filename)
    ).one_or_none()
    if existing is not None:
        if existing.sha256_digest == received.sha256 and existing.blake2_256_digest in (
            None,
            received.blake2_256,
        ):
            return True
        refuse(
            HTTPBadRequest,
            f"File already exists ({upload.filename!r}, with blake2_256 hash "
            f"{received.blake2_256!r}). A filename can never be reused: upload a new version.",
        )
    same_bytes = dbsession.scalar(
        select(ReleaseFile.filename).where(ReleaseFile.sha256_digest == received.sha256).limit(1)
    )
    if same_bytes is not None:
        refuse(
            HTTPBadRequest,
            f"File already exists ({same_bytes!r}, with blake2_256 hash "
            f"{received.blake2_256!r}). The same file cannot be uploaded under another name.",
        )
    return False


def _new_project(dbsession, meta: UploadMetadata, user: User) -> Package:
    package = writer.create_project(dbsession, meta.name)
    dbsession.add(Role(user=user, package=package, role_name=OWNER))
    journal(dbsession, package, "create", user=user)
    journal(dbsession, package, f"add {OWNER} {user.username}", user=user)
    return package


def _release_for(dbsession, package: Package, meta: UploadMetadata, upload, user) -> Release:
    """The release the file belongs to, added (and journalled) when it is new."""
    # The versions alone, not the releases: a long history costs no more than its ids.
    history = dbsession.execute(
        select(Release.id, Release.version, Release.canonical_version).where(
            Release.package_id == package.id
        )
    ).all()
    found = packaging_services.find_release(history, meta.version)
    if found is not None:
        release = dbsession.get(Release, found.id)
        if upload.filetype == "sdist" and any(f.packagetype == "sdist" for f in release.files):
            refuse(HTTPBadRequest, "Only one sdist may be uploaded per release.")
        return release
    row = {
        "version": meta.version,
        "created": utcnow(),
        "summary": meta.summary,
        "description": meta.description,
        "description_content_type": meta.description_content_type,
        "requires_python": meta.requires_python,
        "requires_dist": meta.requires_dist or None,
        "license_expression": meta.license_expression,
        "license_files": meta.license_files or None,
        "provides_extra": meta.provides_extra or None,
        "dynamic": meta.dynamic or None,
    }
    ids, orders = writer.add_releases(dbsession, package, [row])
    if orders[meta.version] == max(orders.values()):
        _set_package_metadata(dbsession, package, meta)
    journal(dbsession, package, "new release", version=meta.version, user=user)
    return dbsession.get(Release, ids[meta.version])


def _store_upload(request, meta, upload, received, package, uploader) -> Response:
    dbsession = request.dbsession
    check_digests(request.POST, received)
    if _is_identical_again(dbsession, upload, received):
        request.tm.doom()
        return ok()
    core_metadata = check_distribution(upload, received, meta)

    user = uploader.user
    if package is None:
        package = _new_project(dbsession, meta, user)
    release = _release_for(dbsession, package, meta, upload, user)

    path = storage_path(received.sha256, upload.filename)
    row = {
        "release_id": release.id,
        "filename": upload.filename,
        "packagetype": upload.filetype,
        "python_version": upload.python_version,
        "requires_python": release.requires_python,
        "size": received.size,
        "md5_digest": received.md5,
        "sha256_digest": received.sha256,
        "blake2_256_digest": received.blake2_256,
        "upload_time": utcnow(),
        "comment_text": _value(request.POST, "comment"),
        "path": path,
        "core_metadata_sha256_digest": (
            hashlib.sha256(core_metadata).hexdigest() if core_metadata else None
        ),
    }
    # Inserted at once: a refusal by a constraint leaves no file.
    writer.add_files(dbsession, [row])
    journal(
        dbsession,
        package,
        f"add {upload.python_version} file {upload.filename}",
        version=release.version,
        user=user,
    )
    refresh_last_updated(dbsession, package)
    _record_upload(request, uploader, package, release, upload, received)
    dbsession.flush()

    stored = StoredUpload(request.file_storage)
    stored.bind(request.tm.get())
    stored.write(received, path)
    if core_metadata is not None:
        stored.write_bytes(path + METADATA_SUFFIX, core_metadata)
    return ok()


def _record_upload(request, uploader, package, release, upload, received) -> None:
    audit.record(
        request.dbsession,
        "package:upload",
        user=uploader.user,
        package_name=package.name,
        ip_address=request.client_address,
        additional={
            "filename": upload.filename,
            "version": release.version,
            "sha256": received.sha256,
            "token_id": uploader.token.id if uploader.token is not None else None,
        },
    )


@view_config(route_name="upload", request_method="POST", require_csrf=False)
def upload(request):
    if isinstance(request.uploader, HTTPException):
        # Returned, not raised: a failed password is recorded (and committed) for throttling.
        return request.uploader
    try:
        response = handle_upload(request)
        if request.uploader.token is not None:
            accounts.record_token_use(request.dbsession, request.uploader.token)
        return response
    except UploadRefused as refused:
        # Raised so that the transaction is rolled back: nothing of a refused upload stays.
        raise refused.response from None
    except OperationalError as exc:
        if "database is locked" in str(exc.orig):
            # SQLite refuses one of two writers that would deadlock; pyramid_retry
            # runs the upload again once the other has committed (then: 200, the
            # identical file is there).
            mark_error_retryable(exc)
        raise
