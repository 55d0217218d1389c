"""pypi-web-upstream prefetch: the listed projects' pages and files fetched into the cache."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pypi_web.models import UpstreamFile, get_engine
from pypi_web.upstream.cli import main


@pytest.fixture
def prefetch_ini(migrated_database_url, fake_upstream, tmp_path):
    ini = tmp_path / "prefetch.ini"
    ini.write_text(
        "[app:main]\nuse = egg:pypi_web\n"
        f"sqlalchemy.url = {migrated_database_url}\n"
        f"files.storage_dir = {tmp_path / 'files'}\n"
        f"pypi_web.upstreams = {fake_upstream.simple}\n"
    )
    return ini


def _run(ini, tmp_path, requirements: str) -> tuple[int, str, str]:
    listed = tmp_path / "requirements.txt"
    listed.write_text(requirements)
    out, err = io.StringIO(), io.StringIO()
    code = main(["prefetch", str(ini), str(listed)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _stored(url: str) -> set[str]:
    engine = get_engine({"sqlalchemy.url": url})
    with Session(engine) as session:
        names = set(session.scalars(select(UpstreamFile.filename)))
    engine.dispose()
    return names


def test_latest_version_by_default_and_the_specifier_selects_versions(
    prefetch_ini, fake_upstream, migrated_database_url, tmp_path
):
    for version in ("1.0", "2.0", "3.0b1"):
        fake_upstream.add_wheel("pre-latest", version)
    for version in ("1.0", "1.5", "2.0", "2.1"):
        fake_upstream.add_wheel("pre-ranged", version)
    fake_upstream.add_wheel("pre-ranged", "1.7", yanked="broken")

    code, out, err = _run(prefetch_ini, tmp_path, "# team set\npre-latest\npre-ranged>=1.5,<2.1\n")

    assert code == 0, err
    assert out.splitlines() == [
        "[1/2] pre-latest: 2 file(s) ready, ok",
        "[2/2] pre-ranged<2.1,>=1.5: 4 file(s) ready, ok",
    ]
    wheels = {name for name in _stored(migrated_database_url) if name.endswith(".whl")}
    assert wheels == {
        "pre_latest-2.0-py3-none-any.whl",
        "pre_ranged-1.5-py3-none-any.whl",
        "pre_ranged-2.0-py3-none-any.whl",
    }
    assert "pre_latest-2.0-py3-none-any.whl.metadata" in _stored(migrated_database_url)


def test_a_pin_fetches_a_yanked_version(
    prefetch_ini, fake_upstream, migrated_database_url, tmp_path
):
    fake_upstream.add_wheel("pre-pinned", "1.0", yanked="old")
    fake_upstream.add_wheel("pre-pinned", "2.0")
    code, _, err = _run(prefetch_ini, tmp_path, "pre-pinned==1.0\n")
    assert code == 0, err
    assert "pre_pinned-1.0-py3-none-any.whl" in _stored(migrated_database_url)


def test_a_bad_requirement_names_the_file_and_line(prefetch_ini, fake_upstream, tmp_path):
    code, _, err = _run(prefetch_ini, tmp_path, "pre-fine\n\npre-bad >= = 1\n")
    assert code == 2
    assert f"{tmp_path / 'requirements.txt'}:3: 'pre-bad >= = 1' is not a valid requirement" in err
    assert fake_upstream.requests == []


def test_failures_are_listed_and_the_exit_status_is_non_zero(
    prefetch_ini, fake_upstream, migrated_database_url, tmp_path
):
    fake_upstream.add_wheel("pre-good", "1.0")
    tampered = fake_upstream.add_wheel("pre-tampered", "1.0")
    fake_upstream.tampered.add(tampered.filename)

    code, out, err = _run(
        prefetch_ini, tmp_path, "pre-good\npre-tampered\npre-nowhere\npre-good>5\n"
    )

    assert code == 1
    assert "[1/4] pre-good: 2 file(s) ready, ok" in out
    assert "failed: pre-tampered\n" in err
    assert f"  {tampered.filename}: the upstream sent a file whose sha256 is" in err
    assert "failed: pre-nowhere\n  no upstream has a project named 'pre-nowhere'" in err
    assert "failed: pre-good>5\n  no file of pre-good matches 'pre-good>5'" in err
    assert tampered.filename not in _stored(migrated_database_url)


def test_an_ini_without_upstreams_is_refused(migrated_database_url, tmp_path):
    ini = tmp_path / "plain.ini"
    ini.write_text(
        "[app:main]\nuse = egg:pypi_web\n"
        f"sqlalchemy.url = {migrated_database_url}\nfiles.storage_dir = {tmp_path}\n"
    )
    code, _, err = _run(ini, tmp_path, "anything\n")
    assert code == 2
    assert "no upstream index configured (pypi_web.upstreams)" in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_progress_bar_and_the_lines_go_to_stderr(
    prefetch_ini, fake_upstream, tmp_path
):
    fake_upstream.add_wheel("pre-bar", "1.0")
    listed = tmp_path / "requirements.txt"
    listed.write_text("pre-bar\n")
    out, err = io.StringIO(), Terminal()

    assert main(["prefetch", str(prefetch_ini), str(listed)], out=out, err=err) == 0

    assert out.getvalue() == ""
    assert "[1/1] pre-bar: 2 file(s) ready, ok" in err.getvalue()
    assert "1/1 [" in err.getvalue() and "project/s" in err.getvalue()  # tqdm's bar
