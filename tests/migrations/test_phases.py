"""Expand and contract: pre-deploy holds contract revisions back, post-deploy applies them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pypi_web.migrations import head_revision, script_directory
from pypi_web.migrations.checksums import file_checksum
from pypi_web.migrations.cli import main
from pypi_web.migrations.phases import CONTRACT, EXPAND, phase_of

from .conftest import (
    alembic_ini_for,
    database_revision,
    make_script_location,
    query,
    revision_source,
    upgrade_at,
)

BASELINE = "a9a83eac6085"
RENAME = "14123ea58e77"  # contract: drops packages.home_page, which the baseline reads
ALEMBIC = str(Path(sys.executable).parent / "alembic")


def test_every_revision_declares_its_phase():
    for revision in script_directory().walk_revisions():
        assert getattr(revision.module, "phase", None) in (EXPAND, CONTRACT), revision.revision
    assert phase_of(script_directory().get_revision(RENAME)) == CONTRACT


def test_upgrade_holds_contract_back_and_contract_applies_it(empty_database_url, capsys):
    upgrade_at(empty_database_url, BASELINE)
    assert main(["upgrade", empty_database_url]) == 0
    captured = capsys.readouterr()
    assert database_revision(empty_database_url) == BASELINE
    assert "Held back" in captured.err and f"  {RENAME} (rename packages" in captured.err
    assert "pypi-web-db contract CONFIG" in captured.err
    assert main(["contract", empty_database_url]) == 0
    assert database_revision(empty_database_url) == head_revision()


def test_an_empty_database_gets_the_whole_history(empty_database_url):
    assert main(["upgrade", empty_database_url]) == 0
    assert database_revision(empty_database_url) == head_revision()


def test_a_named_revision_past_a_contract_is_applied(empty_database_url):
    upgrade_at(empty_database_url, BASELINE)
    upgrade_at(empty_database_url, RENAME)
    assert database_revision(empty_database_url) == RENAME


DROP = "c0ffee000002"
ADD = "c0ffee000001"
LATER = "c0ffee000003"


def next_release(directory: Path) -> Path:
    """This code's history plus an expand, a contract and another expand revision."""
    add = revision_source(
        ADD,
        head_revision(),
        """
        with op.batch_alter_table("packages") as batch_op:
            batch_op.add_column(sa.Column("maintainers_json", sa.JSON(), nullable=True))
        """,
    )
    drop = revision_source(
        DROP,
        ADD,
        """
        with op.batch_alter_table("packages") as batch_op:
            batch_op.drop_column("maintainer_email")
        """,
        phase="contract",
    )
    later = revision_source(
        LATER, DROP, 'op.create_index("ix_packages_summary", "packages", ["summary"])'
    )
    return make_script_location(directory, {"add.py": add, "drop.py": drop, "later.py": later})


def test_the_alembic_command_line_pre_and_post_deploy(migrated_database_url, tmp_path):
    ini = alembic_ini_for(next_release(tmp_path), tmp_path)
    base = [ALEMBIC, "-c", str(ini), "-x", f"db_url={migrated_database_url}"]
    pre = subprocess.run([*base, "upgrade", "head"], capture_output=True, text=True)
    assert pre.returncode == 0, pre.stderr
    assert database_revision(migrated_database_url) == ADD
    assert f"  {DROP} (test-only revision {DROP})" in pre.stderr
    assert f"  {LATER} (test-only revision {LATER})" in pre.stderr
    columns = {row[0] for row in _columns(migrated_database_url)}
    assert {"maintainer_email", "maintainers_json"} <= columns
    post = subprocess.run(
        [*base, "-x", "contract=true", "upgrade", "head"], capture_output=True, text=True
    )
    assert post.returncode == 0, post.stderr
    assert database_revision(migrated_database_url) == LATER
    assert "maintainer_email" not in {row[0] for row in _columns(migrated_database_url)}
    history = subprocess.run([*base, "history"], capture_output=True, text=True)
    assert history.returncode == 0 and DROP in history.stdout


def _columns(url: str) -> list[tuple]:
    if url.startswith("sqlite"):
        return [(row[1],) for row in query(url, "PRAGMA table_info(packages)")]
    return query(
        url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'packages'"
    )


def test_the_phase_line_leaves_the_checksum_alone(tmp_path):
    with_phase = tmp_path / "a.py"
    without = tmp_path / "b.py"
    source = 'revision = "x"\ndepends_on = None\nphase = "expand"\n\n\ndef upgrade():\n    pass\n'
    with_phase.write_text(source, encoding="utf-8")
    without.write_text(source.replace('phase = "expand"\n', ""), encoding="utf-8")
    assert file_checksum(with_phase) == file_checksum(without)
    without.write_text(source.replace("pass", "pass  # edited"), encoding="utf-8")
    assert file_checksum(with_phase) != file_checksum(without)


def test_a_new_revision_states_a_phase_the_lint_refuses_until_chosen(tmp_path):
    ini = alembic_ini_for(make_script_location(tmp_path, {}), tmp_path)
    result = subprocess.run(
        [ALEMBIC, "-c", str(ini), "revision", "-m", "hand written"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    (written,) = (tmp_path / "alembic" / "versions").glob("*hand_written.py")
    assert 'phase = "expand or contract"' in written.read_text(encoding="utf-8")
    assert main(["lint", str(written)]) == 1
