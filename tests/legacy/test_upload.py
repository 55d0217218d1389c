"""``POST /legacy/`` through WebTest: every validation rule, and what a good upload stores."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pypi_web.accounts import services as accounts
from pypi_web.models import (
    MAINTAINER,
    OWNER,
    AuditEvent,
    JournalEntry,
    Package,
    Release,
    ReleaseFile,
    Role,
)

from .conftest import basic_auth, make_sdist, make_wheel, upload_fields

NAME, VERSION = "demo-pkg", "1.0"


def stored_files(app_settings) -> set[str]:
    root = Path(app_settings["files.storage_dir"])
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).parts[0].startswith(".")
    }


def package(dbsession, name=NAME) -> Package | None:
    return dbsession.scalars(select(Package).where(Package.normalized_name == name)).one_or_none()


def test_first_upload_creates_project_with_owner_and_metadata(
    post_upload, dbsession, uploader, app_settings
):
    filename, content = make_wheel(NAME, VERSION, requires_python=">=3.8")
    before = stored_files(app_settings)
    response = post_upload(
        filename,
        content,
        name=NAME,
        version=VERSION,
        requires_python=">=3.8",
        description="# Demo\n\nLong text.",
        description_content_type="text/markdown",
        author="Ada",
        keywords="demo, test",
        classifiers=[
            "Programming Language :: Python :: 3",
            "License :: OSI Approved :: MIT License",
        ],
        requires_dist=["requests>=2", "idna; extra == 'x'"],
        project_urls=["Source, https://example.org/src"],
        home_page="https://example.org/",
    )
    assert response.status_int == 200
    pkg = package(dbsession)
    assert pkg is not None and pkg.name == NAME
    assert [(r.user.username, r.role_name) for r in pkg.roles] == [("uploader", OWNER)]
    assert pkg.summary == "The demo-pkg project"
    assert pkg.author == "Ada" and pkg.keywords == "demo, test"
    assert pkg.project_urls == {"Source": "https://example.org/src"}
    assert pkg.homepage_url == "https://example.org/"
    assert [c.classifier for c in pkg.classifiers] == [
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
    ]
    release = pkg.releases[0]
    assert release.version == VERSION
    assert release.description_content_type == "text/markdown"
    assert release.requires_dist == ["requests>=2", "idna; extra == 'x'"]
    [file] = release.files
    sha256 = hashlib.sha256(content).hexdigest()
    assert file.sha256_digest == sha256 and file.size == len(content)
    assert file.path == f"{sha256[:2]}/{sha256[2:4]}/{sha256}/{filename}"
    assert file.requires_python == ">=3.8"
    metadata = content_of_metadata(content, filename)
    assert file.core_metadata_sha256_digest == hashlib.sha256(metadata).hexdigest()
    # The file and its METADATA are on disk under the hash-addressed path.
    assert stored_files(app_settings) - before == {file.path, file.path + ".metadata"}
    # Journal: create, owner, release, file; last_serial is the newest entry.
    actions = dbsession.scalars(
        select(JournalEntry.action)
        .where(JournalEntry.package_name == NAME)
        .order_by(JournalEntry.id)
    ).all()
    assert actions == ["create", "add Owner uploader", "new release", f"add py3 file {filename}"]
    newest = dbsession.scalar(select(func.max(JournalEntry.id)))
    assert pkg.last_serial == newest
    assert pkg.last_updated == file.upload_time
    event = dbsession.scalars(select(AuditEvent).where(AuditEvent.tag == "package:upload")).one()
    assert event.package_name == NAME and event.additional["filename"] == filename


def content_of_metadata(wheel: bytes, filename: str) -> bytes:
    import io
    import zipfile

    dist = filename.split("-py3")[0]
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        return archive.read(f"{dist}.dist-info/METADATA")


def test_uploaded_file_and_metadata_are_downloadable(post_upload, testapp, dbsession):
    filename, content = make_wheel(NAME, VERSION)
    post_upload(filename, content, name=NAME, version=VERSION)
    file = package(dbsession).releases[0].files[0]
    response = testapp.get(f"/files/{file.path}")
    assert response.body == content
    assert response.content_type == "application/zip"
    assert response.content_length == len(content)
    assert "immutable" in response.headers["Cache-Control"]
    metadata = testapp.get(f"/files/{file.path}.metadata")
    assert hashlib.sha256(metadata.body).hexdigest() == file.core_metadata_sha256_digest
    # Conditional requests on the file itself.
    assert testapp.get(
        f"/files/{file.path}", headers={"If-None-Match": response.headers["ETag"]}, status=304
    )
    assert testapp.head(f"/files/{file.path}").content_length == len(content)
    # Paths that are not a stored file's path.
    testapp.get("/files/../../etc/passwd", status=404)
    testapp.get(f"/files/{file.path}x", status=404)
    wrong = file.path.replace(file.sha256_digest, "0" * 64)
    testapp.get(f"/files/{wrong}", status=404)


def test_sdist_has_no_metadata_file(post_upload, testapp, dbsession):
    post_upload(*make_sdist(NAME, VERSION), name=NAME, version=VERSION)
    file = package(dbsession).releases[0].files[0]
    assert file.core_metadata_sha256_digest is None
    testapp.get(f"/files/{file.path}")
    testapp.get(f"/files/{file.path}.metadata", status=404)


def test_second_file_and_second_version(post_upload, dbsession):
    wheel = make_wheel(NAME, "1.0")
    sdist = make_sdist(NAME, "1.0")
    newer = make_wheel(NAME, "2.0")
    post_upload(*wheel, name=NAME, version="1.0")
    post_upload(*sdist, name=NAME, version="1.0")
    post_upload(*newer, name=NAME, version="2.0", summary="Newer summary")
    pkg = package(dbsession)
    dbsession.expire_all()
    assert [(r.version, r.sort_order) for r in pkg.releases] == [("2.0", 1), ("1.0", 0)]
    assert sorted(f.filename for f in pkg.releases[1].files) == sorted([wheel[0], sdist[0]])
    # The project shows its newest release's metadata.
    assert pkg.summary == "Newer summary"
    # An older version uploaded later does not take the project's metadata back.
    post_upload(*make_wheel(NAME, "0.5"), name=NAME, version="0.5", summary="Old")
    dbsession.expire_all()
    assert package(dbsession).summary == "Newer summary"
    assert [r.version for r in package(dbsession).releases] == ["2.0", "1.0", "0.5"]


def test_identical_file_again_is_ok_and_changes_nothing(post_upload, dbsession):
    filename, content = make_wheel(NAME, VERSION)
    post_upload(filename, content, name=NAME, version=VERSION)
    serial = package(dbsession).last_serial
    journal_count = dbsession.scalar(select(func.count(JournalEntry.id)))
    response = post_upload(filename, content, name=NAME, version=VERSION)
    assert response.status_int == 200
    assert dbsession.scalar(select(func.count(JournalEntry.id))) == journal_count
    assert package(dbsession).last_serial == serial


def test_different_file_under_existing_filename(post_upload, app_settings):
    filename, content = make_wheel(NAME, VERSION)
    post_upload(filename, content, name=NAME, version=VERSION)
    before = stored_files(app_settings)
    _, other = make_wheel(NAME, VERSION, payload="changed")
    response = post_upload(filename, other, name=NAME, version=VERSION)
    assert response.status_int == 400
    assert response.status.startswith("400 File already exists ('demo_pkg-1.0-py3-none-any.whl'")
    assert stored_files(app_settings) == before


def test_only_one_sdist_per_release(post_upload, dbsession):
    post_upload(*make_sdist(NAME, VERSION), name=NAME, version=VERSION)
    # An sdist named before PEP 625 (imported from an index that still has it).
    [sdist] = package(dbsession).releases[0].files
    sdist.filename = f"demo-pkg-{VERSION}.tar.gz"
    dbsession.flush()
    response = post_upload(*make_sdist(NAME, VERSION, payload="other"), name=NAME, version=VERSION)
    assert response.status == "400 Only one sdist may be uploaded per release."


REFUSALS = [
    ({"name": ""}, "400 '' is an invalid value for Name. Error: This field is required."),
    ({"name": "foo-"}, "400 'foo-' is an invalid value for Name. Error: Start and end with"),
    ({"version": None}, "400 'version' is a required field."),
    ({"version": "dog"}, "400 'dog' is invalid for 'version'."),
    ({"version": "1.0+local"}, "400 The use of local versions in '1.0+local' is not allowed."),
    ({"metadata_version": "-1"}, "400 '-1' is not a valid metadata version."),
    ({"classifiers": ["Invalid :: Classifier"]}, "400 'Invalid :: Classifier' is not a valid"),
    ({"requires_python": ">=>3"}, "400 '>=>3' is invalid for 'requires-python'."),
    ({"requires_dist": ["not a requirement!"]}, "400 'not a requirement!' is invalid for"),
    (
        {"description_content_type": "text/foo"},
        "400 'description-content-type' must be one of",
    ),
    ({"summary": "two\nlines"}, "400 'summary' must be a single line."),
    ({"protocol_version": "2"}, "400 Unknown protocol version."),
    ({"author": "nul\x00byte"}, "400 The field 'author' contains a NUL character."),
    ({":action": "submit"}, "410 The 'submit' action is no longer supported"),
    ({"filetype": "bdist_egg"}, "400 Invalid value for filetype. Error: Use a known file type."),
    ({"pyversion": "py3"}, "400 Invalid value for pyversion. Error: Use 'source'"),
    ({"sha256_digest": None, "blake2_256_digest": None}, "400 Include at least one message"),
    (
        {"sha256_digest": "0" * 64},
        "400 The digest supplied does not match a digest calculated from the uploaded file.",
    ),
    (
        {"blake2_256_digest": "1" * 64},
        "400 The digest supplied does not match a digest calculated from the uploaded file.",
    ),
]


@pytest.mark.parametrize(("fields", "status"), REFUSALS)
def test_metadata_refusals(post_upload, dbsession, app_settings, fields, status):
    filename, content = make_sdist(NAME, VERSION)
    before = stored_files(app_settings)
    response = post_upload(filename, content, **{"name": NAME, "version": VERSION, **fields})
    # The status line carries the reason (twine prints it); "\n" cannot be in a status line.
    assert response.status.startswith(status.replace("\n", " "))
    assert response.text.startswith(status.split(" ", 1)[1][:20])
    assert package(dbsession) is None
    assert stored_files(app_settings) == before


FILE_REFUSALS = [
    ("demo_pkg-1.0.exe", b"x", "400 Invalid file extension: Use .tar.gz, .whl or .zip"),
    ("other-1.0.tar.gz", None, "400 Start filename for 'demo-pkg' with 'demo_pkg'."),
    (
        "demo_pkg-6.6.6.tar.gz",
        None,
        "400 Filename 'demo_pkg-6.6.6.tar.gz' is invalid, should be 'demo_pkg-1.0.tar.gz'.",
    ),
    ("demo_pkg-1.0.tar.gz", b"not a tarball", "400 Invalid distribution file. File is not a tar"),
    ("demo_pkg-1.0-py3-none-any.whl", b"not a zip", "400 Invalid distribution file. File is not"),
    (
        "demo_pkg-1.0-bad.whl",
        b"x",
        "400 Invalid wheel filename (wrong number of parts): 'demo_pkg-1.0-bad'",
    ),
]


@pytest.mark.parametrize(("filename", "content", "status"), FILE_REFUSALS)
def test_file_refusals(post_upload, dbsession, app_settings, filename, content, status):
    if content is None:
        content = make_sdist(NAME, VERSION)[1]
    before = stored_files(app_settings)
    response = post_upload(filename, content, name=NAME, version=VERSION)
    assert response.status.startswith(status)
    assert package(dbsession) is None
    assert stored_files(app_settings) == before


def test_wheel_without_metadata_is_refused(post_upload):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("demo_pkg/__init__.py", "")
    response = post_upload(
        "demo_pkg-1.0-py3-none-any.whl", buffer.getvalue(), name=NAME, version=VERSION
    )
    assert response.status == (
        "400 Invalid distribution file. WHEEL not found at demo_pkg-1.0.dist-info/WHEEL"
    )


def test_missing_file_part(testapp, uploader):
    response = testapp.post(
        "/legacy/",
        params=upload_fields(NAME, VERSION, "demo_pkg-1.0.tar.gz", b""),
        headers=basic_auth("__token__", uploader[1]),
        status=400,
    )
    assert response.status == "400 Upload payload does not have a file."


def test_too_large(post_upload, app):
    app.registry.settings["upload.max_bytes"] = "10"
    try:
        response = post_upload(*make_sdist(NAME, VERSION), name=NAME, version=VERSION)
    finally:
        del app.registry.settings["upload.max_bytes"]
    assert response.status_int == 400
    assert "File too large. Limit for project 'demo-pkg'" in response.status


# ---- credentials and permissions ----


def test_missing_credentials_get_a_challenge(post_upload, dbsession):
    response = post_upload(*make_sdist(NAME, VERSION), name=NAME, version=VERSION, auth={})
    assert response.status_int == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert "Invalid or non-existent authentication information." in response.status
    assert package(dbsession) is None


def test_wrong_token_and_password(post_upload, dbsession):
    sdist = make_sdist(NAME, VERSION)
    response = post_upload(*sdist, name=NAME, version=VERSION, auth=basic_auth("__token__", "x"))
    assert response.status.startswith("403 Invalid API Token")
    response = post_upload(
        *sdist, name=NAME, version=VERSION, auth=basic_auth("uploader", "wrong password")
    )
    assert response.status.startswith("403 Invalid or non-existent authentication information.")
    assert package(dbsession) is None


def test_password_upload_works(post_upload, dbsession):
    from tests.factories import ACCOUNT_PASSWORD

    response = post_upload(
        *make_sdist(NAME, VERSION),
        name=NAME,
        version=VERSION,
        auth=basic_auth("uploader", ACCOUNT_PASSWORD),
    )
    assert response.status_int == 200
    assert package(dbsession) is not None


def test_revoked_token_is_refused(post_upload, dbsession, uploader):
    user, secret = uploader
    token = accounts.token_for_secret(dbsession, secret)
    accounts.revoke_api_token(dbsession, user, token.id)
    response = post_upload(*make_sdist(NAME, VERSION), name=NAME, version=VERSION)
    assert response.status.startswith("403 Invalid API Token")


def test_upload_to_someone_elses_project(post_upload, make_user, dbsession):
    post_upload(*make_sdist(NAME, VERSION), name=NAME, version=VERSION)
    other = make_user("mallory")
    _, secret = accounts.create_api_token(dbsession, other, "mine")
    response = post_upload(
        *make_wheel(NAME, VERSION), name=NAME, version=VERSION, auth=basic_auth("__token__", secret)
    )
    assert response.status == (
        "403 The user 'mallory' isn't allowed to upload to project 'demo-pkg'."
    )
    # Imported projects have no owner here: nobody may upload to them.
    response = post_upload(
        *make_wheel("flask", "9.0"),
        name="Flask",
        version="9.0",
        auth=basic_auth("__token__", secret),
    )
    assert response.status == "403 The user 'mallory' isn't allowed to upload to project 'Flask'."


def test_maintainer_may_upload(post_upload, make_user, dbsession):
    post_upload(*make_sdist(NAME, VERSION), name=NAME, version=VERSION)
    helper = make_user("helper")
    dbsession.add(Role(user=helper, package=package(dbsession), role_name=MAINTAINER))
    dbsession.flush()
    _, secret = accounts.create_api_token(dbsession, helper, "helping")
    response = post_upload(
        *make_wheel(NAME, VERSION), name=NAME, version=VERSION, auth=basic_auth("__token__", secret)
    )
    assert response.status_int == 200


def test_project_scoped_token(post_upload, dbsession, uploader):
    post_upload(*make_sdist(NAME, VERSION), name=NAME, version=VERSION)
    user, _ = uploader
    _, scoped = accounts.create_api_token(dbsession, user, "scoped", package=package(dbsession))
    auth = basic_auth("__token__", scoped)
    ok = post_upload(*make_wheel(NAME, VERSION), name=NAME, version=VERSION, auth=auth)
    assert ok.status_int == 200
    refused = post_upload(
        *make_sdist("other-pkg", "1.0"), name="other-pkg", version="1.0", auth=auth
    )
    assert refused.status == "403 The given token isn't allowed to upload to project 'other-pkg'."
    assert package(dbsession, "other-pkg") is None


def test_name_is_matched_normalized(post_upload, dbsession):
    post_upload(*make_sdist(NAME, VERSION), name=NAME, version=VERSION)
    # twine sends the safe name; any spelling of the same project lands on it.
    response = post_upload(*make_wheel(NAME, "1.1"), name="Demo_Pkg", version="1.1")
    assert response.status_int == 200
    assert dbsession.scalar(select(func.count(Package.id)).where(Package.name.like("%emo%"))) == 1
    assert {r.version for r in package(dbsession).releases} == {"1.0", "1.1"}


def test_upload_to_existing_release_keeps_its_metadata(post_upload, dbsession):
    post_upload(*make_sdist(NAME, VERSION), name=NAME, version=VERSION, summary="First")
    post_upload(*make_wheel(NAME, VERSION), name=NAME, version=VERSION, summary="Second")
    release = dbsession.scalars(select(Release).join(Package).where(Package.name == NAME)).one()
    assert release.summary == "First"
    assert len(release.files) == 2
    assert (
        dbsession.scalar(
            select(func.count(ReleaseFile.id)).where(ReleaseFile.release_id == release.id)
        )
        == 2
    )


def test_password_guessing_is_throttled(post_upload, dbsession):
    from pypi_web.accounts import throttle
    from tests.factories import ACCOUNT_PASSWORD

    sdist = make_sdist(NAME, VERSION)
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME):
        wrong = post_upload(*sdist, name=NAME, version=VERSION, auth=basic_auth("uploader", "x"))
        assert wrong.status_int == 403
    # Now even the right password is refused for a while, as on the login form.
    response = post_upload(
        *sdist, name=NAME, version=VERSION, auth=basic_auth("uploader", ACCOUNT_PASSWORD)
    )
    assert response.status_int == 429
    assert "Too many failed login attempts" in response.status
    assert package(dbsession) is None


def test_uploaded_project_pages_link_the_uploaded_bytes(post_upload, testapp):
    """Publish, then look: the pages of an uploaded project, and each file link on them."""
    uploads = dict([make_wheel(NAME, VERSION), make_sdist(NAME, VERSION)])
    for filename, content in uploads.items():
        post_upload(filename, content, name=NAME, version=VERSION)
    for page in (f"/project/{NAME}/", f"/project/{NAME}/{VERSION}/"):
        response = testapp.get(page, status=200)
        links = {a.text: a["href"] for a in response.html.select("a.file-name")}
        assert set(links) == set(uploads)
        for filename, href in links.items():
            assert testapp.get(href, status=200).body == uploads[filename]


def test_a_tokens_use_is_its_uploads_last_write_at_most_once_a_minute(
    post_upload, dbsession, uploader, count_queries
):
    """Uploads sharing one token (a CI job's wheels, at once) do not queue on its row:
    it is written last, just before the commit, and not again within the minute."""
    token = accounts.token_for_secret(dbsession, uploader[1])
    assert token.last_used is None
    with count_queries() as first:
        post_upload(*make_sdist(NAME, VERSION), name=NAME, version=VERSION, status=200)
    writes = [s for s in first.statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert writes[-1].lstrip().upper().startswith("UPDATE API_TOKENS")
    dbsession.expire(token)
    first_use = token.last_used
    assert first_use is not None
    post_upload(*make_wheel(NAME, VERSION), name=NAME, version=VERSION, status=200)
    dbsession.expire(token)
    assert token.last_used == first_use
