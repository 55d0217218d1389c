"""What pypi.org accepts and refuses on upload, with its messages; Metadata 2.2-2.4 fields kept.

Each refusal leaves nothing behind: no project, no file.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import select

from pypi_web.legacy.distributions import valid_platform_tag
from pypi_web.models import Package

from .conftest import core_metadata, make_sdist, make_wheel

NAME, VERSION = "demo-pkg", "1.0"


def package(dbsession) -> Package | None:
    return dbsession.scalars(select(Package).where(Package.normalized_name == NAME)).one_or_none()


# ---- Metadata 2.2-2.4: stored, served in the JSON API and on the project page ----

NEW_FIELDS = {
    "metadata_version": "2.4",
    "license_expression": "mit OR Apache-2.0",
    "license_file": ["LICENSE", "NOTICE"],
    "provides_extra": ["socks", "Fast_Mode"],
    "dynamic": ["requires-dist", "Summary"],
}


def test_metadata_24_fields_are_kept_and_served(post_upload, testapp, dbsession):
    wheel = make_wheel(NAME, VERSION, licenses=("LICENSE", "NOTICE"))
    response = post_upload(*wheel, name=NAME, version=VERSION, **NEW_FIELDS)
    assert response.status_int == 200

    info = testapp.get(f"/pypi/{NAME}/json").json["info"]
    # As pypi.org serves them: the expression and extras normalised, fields title-cased.
    assert info["license_expression"] == "MIT OR Apache-2.0"
    assert info["license_files"] == ["LICENSE", "NOTICE"]
    assert info["provides_extra"] == ["socks", "fast-mode"]
    assert info["dynamic"] == ["Requires-Dist", "Summary"]
    assert testapp.get(f"/pypi/{NAME}/{VERSION}/json").json["info"]["license_expression"] == (
        "MIT OR Apache-2.0"
    )

    page = testapp.get(f"/project/{NAME}/")
    sidebar = page.html.select_one(".package-sidebar")
    assert sidebar.select_one(".license-expression").get_text(strip=True) == "MIT OR Apache-2.0"
    assert "License Expression" in sidebar.get_text()


def test_without_the_new_fields_the_json_api_has_nulls(post_upload, testapp):
    post_upload(*make_wheel(NAME, VERSION), name=NAME, version=VERSION)
    info = testapp.get(f"/pypi/{NAME}/json").json["info"]
    for key in ("license_expression", "license_files", "provides_extra", "dynamic"):
        assert info[key] is None, key


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        # Fields newer than the declared metadata version.
        (
            {"license_expression": "MIT"},
            "400 license-expression introduced in metadata version 2.4, not 2.1.",
        ),
        (
            {"metadata_version": "2.4", "license_expression": "Not-A-License"},
            "400 'Not-A-License' is invalid for 'license-expression'",
        ),
        (
            {"metadata_version": "2.4", "license_expression": "MIT", "license": "MIT"},
            "400 License is deprecated when License-Expression is present.",
        ),
        (
            {"metadata_version": "2.4", "license_file": ["../LICENSE"]},
            "400 '../LICENSE' is invalid for 'license-file'",
        ),
        ({"metadata_version": "2.2", "dynamic": ["Name"]}, "400 'name' is not allowed as a"),
        ({"requires_dist": ["pkg @ https://example.org/pkg.whl"]}, "400 Can't have direct"),
        ({"metadata_version": "2.0"}, "400 '2.0' is not a valid metadata version."),
    ],
)
def test_metadata_refused_as_pypi_refuses_it(post_upload, dbsession, fields, status):
    response = post_upload(*make_wheel(NAME, VERSION), name=NAME, version=VERSION, **fields)
    assert response.status.startswith(status), response.status
    assert response.text.endswith(
        "See https://packaging.python.org/specifications/core-metadata for more information.\n"
    )
    assert package(dbsession) is None


@pytest.mark.parametrize(
    ("dist", "where"),
    [
        (
            make_wheel(NAME, VERSION, licenses=("LICENSE",)),
            "demo_pkg-1.0-py3-none-any.whl at demo_pkg-1.0.dist-info/licenses/NOTICE",
        ),
        (
            make_sdist(NAME, VERSION, licenses=("LICENSE",)),
            "demo_pkg-1.0.tar.gz at demo_pkg-1.0/NOTICE",
        ),
    ],
)
def test_a_license_file_the_metadata_names_must_be_in_the_file(post_upload, dbsession, dist, where):
    response = post_upload(*dist, name=NAME, version=VERSION, **NEW_FIELDS)
    assert response.status == f"400 License-File NOTICE does not exist in distribution file {where}"
    assert package(dbsession) is None
    # With both files present the sdist is accepted.
    sdist = make_sdist(NAME, VERSION, licenses=("LICENSE", "NOTICE"))
    assert post_upload(*sdist, name=NAME, version=VERSION, **NEW_FIELDS).status_int == 200


# ---- the file's own metadata must agree with the form and the filename ----


@pytest.mark.parametrize(
    ("dist", "status"),
    [
        (
            make_wheel(NAME, VERSION, metadata=core_metadata("requests", VERSION)),
            "400 Invalid distribution file. demo_pkg-1.0.dist-info/METADATA names the project "
            "'requests', not 'demo-pkg'.",
        ),
        (
            make_wheel(NAME, VERSION, metadata=core_metadata(NAME, "2.0")),
            "400 Invalid distribution file. demo_pkg-1.0.dist-info/METADATA has the version "
            "'2.0', not '1.0'.",
        ),
        (
            make_sdist(NAME, VERSION, metadata=core_metadata("requests", VERSION)),
            "400 Invalid distribution file. demo_pkg-1.0/PKG-INFO names the project "
            "'requests', not 'demo-pkg'.",
        ),
    ],
)
def test_a_file_whose_own_metadata_disagrees_is_refused(
    post_upload, testapp, dbsession, dist, status
):
    response = post_upload(*dist, name=NAME, version=VERSION)
    assert response.status == status
    assert package(dbsession) is None
    # Nothing is served for it: no project, no PEP 658 metadata about another project.
    testapp.get(f"/simple/{NAME}/", status=404)


def test_metadata_spelling_the_same_project_and_version_differently_is_accepted(post_upload):
    # "Demo_Pkg" is demo-pkg, and 1.0.0 is 1.0 (PEP 503, PEP 440).
    wheel = make_wheel(NAME, VERSION, metadata=core_metadata("Demo_Pkg", "1.0.0"))
    assert post_upload(*wheel, name=NAME, version=VERSION).status_int == 200


# ---- filenames: PEP 625 sdists, normalised wheels, pypi.org's platform tags ----


def zip_sdist() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("demo_pkg-1.0/PKG-INFO", core_metadata(NAME, VERSION))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "content", "status"),
    [
        (
            "demo_pkg-1.0.zip",
            zip_sdist(),
            "400 Filename 'demo_pkg-1.0.zip' is invalid, should be 'demo_pkg-1.0.tar.gz'.",
        ),
        (
            "demo-pkg-1.0.tar.gz",
            make_sdist(NAME, VERSION)[1],
            "400 Filename 'demo-pkg-1.0.tar.gz' is invalid, should be 'demo_pkg-1.0.tar.gz'.",
        ),
        (
            "Demo_Pkg-1.0.tar.gz",
            make_sdist(NAME, VERSION)[1],
            "400 Filename 'Demo_Pkg-1.0.tar.gz' is invalid, should be 'demo_pkg-1.0.tar.gz'.",
        ),
        (
            "Demo_Pkg-1.0-py3-none-any.whl",
            make_wheel(NAME, VERSION)[1],
            "400 Filename 'Demo_Pkg-1.0-py3-none-any.whl' should contain the normalized project "
            "name 'demo_pkg', not 'Demo_Pkg'.",
        ),
        (
            "demo_pkg-1.0-cp312-cp312-linux_x86_64.whl",
            make_wheel(NAME, VERSION, tag="cp312-cp312-linux_x86_64")[1],
            "400 Binary wheel 'demo_pkg-1.0-cp312-cp312-linux_x86_64.whl' has an unsupported "
            "platform tag 'linux_x86_64'.",
        ),
        (
            "demo_pkg-1.0-py3-none-beos_5_x86.whl",
            make_wheel(NAME, VERSION, tag="py3-none-beos_5_x86")[1],
            "400 Binary wheel 'demo_pkg-1.0-py3-none-beos_5_x86.whl' has an unsupported "
            "platform tag 'beos_5_x86'.",
        ),
        (
            "demo_pkg-1.0.whl",
            make_sdist(NAME, VERSION)[1],
            "400 Invalid file extension: Extension .whl is invalid for filetype sdist.",
        ),
    ],
)
def test_filenames_refused_as_pypi_refuses_them(post_upload, dbsession, filename, content, status):
    # The last case sends a wheel's name as an sdist: the filetype is what the form says.
    filetype = "bdist_wheel" if filename.endswith(".whl") and "Extension" not in status else "sdist"
    pyversion = "py3" if filetype == "bdist_wheel" else "source"
    response = post_upload(
        filename, content, name=NAME, version=VERSION, filetype=filetype, pyversion=pyversion
    )
    assert response.status.startswith(status), response.status
    assert package(dbsession) is None


def test_a_manylinux_wheel_is_accepted(post_upload, dbsession):
    tag = "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"
    response = post_upload(*make_wheel(NAME, VERSION, tag=tag), name=NAME, version=VERSION)
    assert response.status_int == 200
    [file] = package(dbsession).releases[0].files
    assert file.filename == f"demo_pkg-1.0-{tag}.whl"


@pytest.mark.parametrize(
    "tag",
    [
        "any",
        "win_amd64",
        "win32",
        "win_arm64",
        "manylinux1_x86_64",
        "manylinux2014_aarch64",
        "manylinux_2_28_x86_64",
        "manylinux_2_17_ppc64",
        "musllinux_1_2_aarch64",
        "macosx_10_9_x86_64",
        "macosx_11_0_arm64",
        "macosx_14_0_universal2",
        "ios_13_0_arm64_iphoneos",
        "android_21_arm64_v8a",
        "pyemscripten_2024_0_wasm32",
        "linux_armv7l",
    ],
)
def test_platform_tags_pypi_allows(tag):
    assert valid_platform_tag(tag)


@pytest.mark.parametrize(
    "tag",
    [
        "linux_x86_64",
        "linux_aarch64",
        "beos_5_x86",
        "macosx_11_3_arm64",  # after 10.x the minor is always 0
        "macosx_10_9_sparc",
        "musllinux_1_2_ppc64",  # ppc64 (big-endian) only as manylinux
        "manylinux_2_17_mips",
        "ios_13_0_arm64_ipados",
        "android_21_mips",
        "win_sparc",
    ],
)
def test_platform_tags_pypi_refuses(tag):
    assert not valid_platform_tag(tag)
