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
import re
import tarfile
import zipfile
from dataclasses import dataclass, field

import trove_classifiers
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
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
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from pypi_web import audit
from pypi_web.accounts import services as accounts
from pypi_web.accounts import throttle
from pypi_web.files import METADATA_SUFFIX, FileTooLarge, Received, StoredUpload, storage_path
from pypi_web.models import (
    OWNER,
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
from pypi_web.packaging import versions
from pypi_web.packaging.names import is_valid_name, normalize

from . import services

log = logging.getLogger(__name__)

CORE_METADATA_HELP = (
    "See https://packaging.python.org/specifications/core-metadata for more information."
)
DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024
MAX_METADATA_BYTES = 10 * 1024 * 1024
MAX_ARCHIVE_MEMBERS = 100_000
METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5")
DESCRIPTION_TYPES = ("text/plain", "text/x-rst", "text/markdown")
REALM = 'Basic realm="pypi_web", charset="UTF-8"'
BAD_CREDENTIALS = "Invalid or non-existent authentication information."
# Repeated fields (twine sends one form field per value).
MULTI_FIELDS = ("classifiers", "requires_dist", "project_urls", "platform", "dynamic")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


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


def _client_address(request) -> str | None:
    return request.client_addr[:45] if request.client_addr else None


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
    address = _client_address(request)
    refused = throttle.refusal(dbsession, username, address)
    if refused is not None:
        return refusal(HTTPTooManyRequests, refused)
    user = accounts.check_password(dbsession, username, password) if password else None
    if user is None:
        # Counted as a failed login: the password throttle covers uploads too.
        audit.record(dbsession, throttle.LOGIN_FAILED, username=username, ip_address=address)
        return refusal(HTTPForbidden, f"{BAD_CREDENTIALS} The username or password is wrong.")
    return Uploader(user)


# ---- the form's metadata ----


@dataclass
class UploadMetadata:
    metadata_version: str
    name: str
    version: str
    summary: str | None = None
    description: str | None = None
    description_content_type: str | None = None
    keywords: str | None = None
    home_page: str | None = None
    download_url: str | None = None
    author: str | None = None
    author_email: str | None = None
    maintainer: str | None = None
    maintainer_email: str | None = None
    license: str | None = None
    requires_python: str | None = None
    requires_dist: list[str] = field(default_factory=list)
    classifiers: list[str] = field(default_factory=list)
    project_urls: dict[str, str] = field(default_factory=dict)

    @property
    def normalized_name(self) -> str:
        return normalize(self.name)


def _value(form, key: str) -> str | None:
    """A single-valued field; setuptools' "UNKNOWN" placeholder means not given."""
    value = form.get(key)
    if not isinstance(value, str):
        return None
    if value.strip() in ("", "UNKNOWN"):
        return None
    return value


def _values(form, key: str) -> list[str]:
    return [v for v in form.getall(key) if isinstance(v, str) and v.strip() not in ("", "UNKNOWN")]


def _check_length(field_name: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        refuse(HTTPBadRequest, f"'{field_name}' must be {limit} characters or fewer.")


def parse_metadata(form) -> UploadMetadata:
    for key, value in form.items():
        if isinstance(value, str) and "\x00" in value:
            refuse(HTTPBadRequest, f"The field {key!r} contains a NUL character.")

    metadata_version = _value(form, "metadata_version") or ""
    if metadata_version not in METADATA_VERSIONS:
        refuse(
            HTTPBadRequest,
            f"'{metadata_version}' is not a valid metadata version. {CORE_METADATA_HELP}",
        )

    name = _value(form, "name") or ""
    if not name:
        refuse(
            HTTPBadRequest,
            f"'' is an invalid value for Name. Error: This field is required. {CORE_METADATA_HELP}",
        )
    if not is_valid_name(name) or len(name) > 200:
        refuse(
            HTTPBadRequest,
            f"'{name}' is an invalid value for Name. Error: Start and end with a letter or "
            "numeral containing only ASCII numeric and '.', '_' and '-'. "
            f"{CORE_METADATA_HELP}",
        )

    version = _value(form, "version")
    if version is None:
        refuse(HTTPBadRequest, f"'version' is a required field. {CORE_METADATA_HELP}")
    try:
        parsed = Version(version)
    except InvalidVersion:
        refuse(HTTPBadRequest, f"'{version}' is invalid for 'version'. {CORE_METADATA_HELP}")
    if parsed.local is not None:
        refuse(
            HTTPBadRequest,
            f"The use of local versions in '{version}' is not allowed. See "
            "https://packaging.python.org/specifications/core-metadata for more information.",
        )
    _check_length("version", version, 100)

    meta = UploadMetadata(metadata_version=metadata_version, name=name, version=version)
    for key in (
        "summary",
        "description",
        "keywords",
        "home_page",
        "download_url",
        "author",
        "author_email",
        "maintainer",
        "maintainer_email",
        "license",
    ):
        setattr(meta, key, _value(form, key))
    if meta.summary is not None:
        if "\n" in meta.summary.strip() or len(meta.summary) > 512:
            refuse(
                HTTPBadRequest,
                f"'{meta.summary[:100]}' is an invalid value for Summary. "
                "Error: Use a single line of 512 characters or fewer.",
            )
        meta.summary = meta.summary.strip()

    content_type = _value(form, "description_content_type")
    if content_type is not None:
        main = content_type.split(";", 1)[0].strip().lower()
        if main not in DESCRIPTION_TYPES or len(content_type) > 255:
            refuse(
                HTTPBadRequest,
                f"'{content_type}' is an invalid value for Description-Content-Type. Error: "
                "Use a known content-type (text/plain, text/x-rst or text/markdown). "
                f"{CORE_METADATA_HELP}",
            )
        meta.description_content_type = content_type

    requires_python = _value(form, "requires_python")
    if requires_python is not None:
        try:
            SpecifierSet(requires_python)
        except InvalidSpecifier:
            refuse(
                HTTPBadRequest,
                f"'{requires_python}' is invalid for 'requires_python'. {CORE_METADATA_HELP}",
            )
        _check_length("requires_python", requires_python, 255)
        meta.requires_python = requires_python

    for requirement in _values(form, "requires_dist"):
        try:
            Requirement(requirement)
        except InvalidRequirement:
            refuse(
                HTTPBadRequest,
                f"'{requirement}' is invalid for 'requires_dist'. {CORE_METADATA_HELP}",
            )
        meta.requires_dist.append(requirement)

    for classifier in _values(form, "classifiers"):
        if (
            classifier not in trove_classifiers.classifiers
            or classifier in trove_classifiers.deprecated_classifiers
        ):
            refuse(
                HTTPBadRequest,
                f"'{classifier}' is not a valid classifier. See "
                "https://pypi.org/classifiers/ for the list of classifiers.",
            )
        if classifier not in meta.classifiers:
            meta.classifiers.append(classifier)

    for entry in _values(form, "project_urls"):
        label, sep, url = entry.partition(",")
        label, url = label.strip(), url.strip()
        if not sep or not label or len(label) > 32 or not url:
            refuse(
                HTTPBadRequest,
                f"'{entry}' is invalid for 'project_urls'. Use 'Label, URL' with a label of "
                f"32 characters or fewer. {CORE_METADATA_HELP}",
            )
        meta.project_urls[label] = url
    if meta.download_url and "Download" not in meta.project_urls:
        meta.project_urls["Download"] = meta.download_url
    return meta


# ---- the file ----

SDIST_EXTENSIONS = (".tar.gz", ".zip")


@dataclass
class UploadFile:
    filename: str
    filetype: str
    python_version: str
    stream: io.BufferedIOBase


def parse_file_fields(form, meta: UploadMetadata) -> UploadFile:
    filetype = _value(form, "filetype") or ""
    if filetype not in ("sdist", "bdist_wheel"):
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
    if "/" in filename or "\\" in filename:
        refuse(HTTPBadRequest, "Cannot upload a file with '/' or '\\' in the name.")
    _check_length("filename", filename, 255)
    if not filename.endswith((".whl", *SDIST_EXTENSIONS)):
        refuse(
            HTTPBadRequest,
            "Invalid file extension: Use .tar.gz, .whl or .zip extension. See "
            "https://www.python.org/dev/peps/pep-0527 and https://peps.python.org/pep-0715/ "
            "for more information",
        )
    if (filetype == "bdist_wheel") != filename.endswith(".whl"):
        refuse(
            HTTPBadRequest,
            f"Invalid value for filetype. Error: {filename!r} is not a "
            f"{'wheel' if filetype == 'bdist_wheel' else 'source distribution'}.",
        )

    try:
        if filetype == "bdist_wheel":
            file_name, file_version, _, _ = parse_wheel_filename(filename)
        else:
            file_name, file_version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        refuse(HTTPBadRequest, f"Invalid distribution file name: {exc}")
    if canonicalize_name(file_name) != meta.normalized_name:
        prefix = re.sub(r"[-_.]+", "_", meta.name).lower()
        refuse(HTTPBadRequest, f"Start filename for {meta.name!r} with {prefix!r}.")
    if canonicalize_version(file_version) != canonicalize_version(meta.version):
        refuse(
            HTTPBadRequest,
            f"Version in filename should be {meta.version!r} not {str(file_version)!r}.",
        )
    python_version = "source" if filetype == "sdist" else pyversion
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


def _wheel_metadata(path, filename: str) -> bytes:
    """The wheel's ``*.dist-info/METADATA``; ValueError when it is not a sound wheel."""
    name, version, _, _ = parse_wheel_filename(filename)
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise ValueError("too many members")
        dist_infos = {
            info.filename.split("/", 1)[0]
            for info in members
            if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA")
        }
        wanted = [
            d
            for d in dist_infos
            if canonicalize_name(d.removesuffix(".dist-info").rpartition("-")[0]) == name
        ]
        if len(wanted) != 1:
            raise ValueError("no single .dist-info/METADATA for the project")
        dist_info = wanted[0]
        names = {info.filename for info in members}
        if f"{dist_info}/WHEEL" not in names:
            raise ValueError("no WHEEL file")
        info = archive.getinfo(f"{dist_info}/METADATA")
        if info.file_size > MAX_METADATA_BYTES:
            raise ValueError("METADATA is too large")
        data = archive.read(info)
    del version
    return data


def _sdist_has_pkg_info(path, filename: str) -> bool:
    if filename.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            return any(n.count("/") == 1 and n.endswith("/PKG-INFO") for n in archive.namelist())
    with tarfile.open(path, mode="r:gz") as archive:
        # Stop at the first PKG-INFO: reading a whole (possibly huge) tar is not needed.
        for count, member in enumerate(archive):
            if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                return member.isfile()
            if count >= MAX_ARCHIVE_MEMBERS:
                return False
    return False


def check_distribution(upload: UploadFile, received: Received) -> bytes | None:
    """The wheel's METADATA (None for an sdist); 400 when the archive is not a distribution."""
    try:
        if upload.filetype == "bdist_wheel":
            return _wheel_metadata(received.temp_path, upload.filename)
        if _sdist_has_pkg_info(received.temp_path, upload.filename):
            return None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, tarfile.TarError) as exc:
        log.info("invalid distribution %s: %s", upload.filename, exc)
    refuse(HTTPBadRequest, "Invalid distribution file.")


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
    has_role = dbsession.scalar(
        select(Role.id).where(Role.package_id == package.id, Role.user_id == uploader.user.id)
    )
    if has_role is None:
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


def _still_referenced(engine):
    def check(path: str) -> bool:
        # A fresh connection sees only what has been committed.
        with engine.connect() as conn:
            return (
                conn.execute(
                    text("SELECT 1 FROM release_files WHERE path = :path"), {"path": path}
                ).first()
                is not None
            )

    return check


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
    uploader = request.environ["pypi_web.uploader"]
    check_permission(dbsession, uploader, package, meta.name)
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


def _store_upload(request, meta, upload, received, package, uploader) -> Response:
    dbsession = request.dbsession
    check_digests(request.POST, received)

    existing = dbsession.scalars(
        select(ReleaseFile).where(ReleaseFile.filename == upload.filename)
    ).one_or_none()
    if existing is not None:
        if existing.sha256_digest == received.sha256 and existing.blake2_256_digest in (
            None,
            received.blake2_256,
        ):
            # The identical file again (a retried upload): nothing changes.
            request.tm.doom()
            return ok()
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
    core_metadata = check_distribution(upload, received)

    user = uploader.user
    if package is None:
        package = Package(name=meta.name, normalized_name=meta.normalized_name, last_serial=0)
        dbsession.add(package)
        dbsession.flush()
        dbsession.add(Role(user=user, package=package, role_name=OWNER))
        services.journal(dbsession, package, "create", user=user)
        services.journal(dbsession, package, f"add {OWNER} {user.username}", user=user)

    releases = packaging_services.release_history(dbsession, package.id)
    release = packaging_services.find_release(releases, meta.version)
    if release is None:
        release = Release(
            package=package,
            version=meta.version,
            canonical_version=versions.canonical_version(meta.version),
            is_prerelease=versions.is_prerelease(meta.version),
            created=utcnow(),
            summary=meta.summary,
            description=meta.description,
            description_content_type=meta.description_content_type,
            requires_python=meta.requires_python,
            requires_dist=meta.requires_dist or None,
        )
        dbsession.add(release)
        dbsession.flush()
        orders = services.renumber_releases(dbsession, package)
        if orders[release.version] == max(orders.values()):
            _set_package_metadata(dbsession, package, meta)
        services.journal(dbsession, package, "new release", version=release.version, user=user)
    elif upload.filetype == "sdist" and any(f.packagetype == "sdist" for f in release.files):
        refuse(HTTPBadRequest, "Only one sdist may be uploaded per release.")

    path = storage_path(received.sha256, upload.filename)
    now = utcnow()
    release_file = ReleaseFile(
        release=release,
        filename=upload.filename,
        packagetype=upload.filetype,
        python_version=upload.python_version,
        requires_python=release.requires_python,
        size=received.size,
        md5_digest=received.md5,
        sha256_digest=received.sha256,
        blake2_256_digest=received.blake2_256,
        upload_time=now,
        comment_text=_value(request.POST, "comment"),
        path=path,
        metadata_sha256_digest=(
            hashlib.sha256(core_metadata).hexdigest() if core_metadata else None
        ),
    )
    dbsession.add(release_file)
    services.journal(
        dbsession,
        package,
        f"add {upload.python_version} file {upload.filename}",
        version=release.version,
        user=user,
    )
    package.last_updated = now
    audit.record(
        dbsession,
        "package:upload",
        user=user,
        package_name=package.name,
        ip_address=_client_address(request),
        additional={
            "filename": upload.filename,
            "version": release.version,
            "sha256": received.sha256,
            "token_id": uploader.token.id if uploader.token is not None else None,
        },
    )
    # The rows go to the database first: a refusal by a constraint leaves no file.
    dbsession.flush()

    stored = StoredUpload(request.file_storage, _still_referenced(request.registry["dbengine"]))
    stored.bind(request.tm.get())
    stored.write(received, path)
    if core_metadata is not None:
        stored.write_bytes(path + METADATA_SUFFIX, core_metadata)
    return ok()


@view_config(route_name="upload", request_method="POST", require_csrf=False)
def upload(request):
    identity = authenticate(request)
    if isinstance(identity, HTTPException):
        # Returned, not raised: a failed password is recorded (and committed) for throttling.
        return identity
    request.environ["pypi_web.uploader"] = identity
    try:
        return handle_upload(request)
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
