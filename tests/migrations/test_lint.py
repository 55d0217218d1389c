"""The migration lint: each rule fires, an acknowledgement silences it, the history is clean."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pypi_web.migrations import SCRIPT_LOCATION
from pypi_web.migrations.cli import main
from pypi_web.migrations.lint import PHASE_PLACEHOLDER, lint_paths, lint_source, phase_for_template

PYPI_WEB_DB = str(Path(sys.executable).parent / "pypi-web-db")


def revision(upgrade: str, downgrade: str = "pass", phase: str = "contract") -> str:
    return textwrap.dedent(
        """\
        import sqlalchemy as sa
        from alembic import op

        revision = "abc"
        down_revision = "def"
        phase = "{phase}"


        def upgrade():
        {upgrade}


        def downgrade():
        {downgrade}
        """
    ).format(
        phase=phase,
        upgrade=textwrap.indent(textwrap.dedent(upgrade).strip(), "    "),
        downgrade=textwrap.indent(textwrap.dedent(downgrade).strip(), "    "),
    )


def rules(source: str) -> list[tuple[int, str, str]]:
    return [
        (f.line, f.rule, f.function) for f in lint_source(source, "rev.py") if f.rule != "phase"
    ]


# Each case: upgrade body, the rule it must trigger, and the line of the operation.
DANGEROUS = {
    "drop_table": ('op.drop_table("packages")', 10),
    "drop_column": (
        """
        with op.batch_alter_table("packages") as batch_op:
            batch_op.drop_column("summary")
        """,
        11,
    ),
    "add_column": (
        'op.add_column("packages", sa.Column("stars", sa.Integer(), nullable=False))',
        10,
    ),
    "create_index": ('op.create_index("ix_packages_name", "packages", ["name"])', 10),
    "alter_column": (
        """
        with op.batch_alter_table("packages") as batch_op:
            batch_op.alter_column("name", type_=sa.String(300))
        """,
        11,
    ),
}


@pytest.mark.parametrize("rule", sorted(DANGEROUS))
def test_each_rule_fires(rule):
    body, line = DANGEROUS[rule]
    assert rules(revision(body)) == [(line, rule, "upgrade")]


@pytest.mark.parametrize("rule", sorted(DANGEROUS))
def test_an_acknowledgement_on_the_line_before_silences_it(rule):
    body, _ = DANGEROUS[rule]
    lines = textwrap.dedent(body).strip().splitlines()
    # The operation is the last line; acknowledge it right above.
    indent = lines[-1][: len(lines[-1]) - len(lines[-1].lstrip())]
    lines.insert(-1, f"{indent}# migration-lint: allow {rule} -- reviewed: safe here")
    assert rules(revision("\n".join(lines))) == []


def test_an_acknowledgement_must_name_the_rule_and_give_a_reason():
    for comment in (
        "# migration-lint: allow drop_column -- ",  # no reason
        "# migration-lint: allow drop_table -- wrong rule",
        "# migration-lint: allow drop_column",
    ):
        source = revision(
            f"""
            with op.batch_alter_table("packages") as batch_op:
                {comment}
                batch_op.drop_column("summary")
            """
        )
        assert [r for _, r, _ in rules(source)] == ["drop_column"], comment


def test_an_acknowledgement_two_lines_up_counts_within_one_comment_block():
    source = revision(
        """
        # migration-lint: allow drop_table -- the table was emptied into archive first
        # (see the archive job)
        op.drop_table("old_logs")
        """
    )
    assert rules(source) == []
    separated = revision(
        """
        # migration-lint: allow drop_table -- the table was emptied into archive first
        x = 1
        op.drop_table("old_logs")
        """
    )
    assert [r for _, r, _ in rules(separated)] == ["drop_table"]


def test_rename_as_drop_and_add_is_flagged():
    source = revision(
        """
        with op.batch_alter_table("packages") as batch_op:
            batch_op.add_column(sa.Column("homepage_url", sa.Text(), nullable=True))
            batch_op.drop_column("home_page")
        """
    )
    assert rules(source) == [(12, "drop_column", "upgrade"), (12, "rename_as_drop_add", "upgrade")]
    acknowledged = source.replace(
        '        batch_op.drop_column("home_page")',
        "        # migration-lint: allow drop_column, rename_as_drop_add -- not a rename\n"
        '        batch_op.drop_column("home_page")',
    )
    assert acknowledged != source
    assert rules(acknowledged) == []


def test_add_copy_drop_is_not_a_drop_and_add_rename():
    source = revision(
        """
        with op.batch_alter_table("packages") as batch_op:
            batch_op.add_column(sa.Column("homepage_url", sa.Text(), nullable=True))
        op.execute("UPDATE packages SET homepage_url = home_page")
        with op.batch_alter_table("packages") as batch_op:
            # migration-lint: allow drop_column -- copied above
            batch_op.drop_column("home_page")
        """
    )
    assert rules(source) == []


def test_safe_operations_pass():
    source = revision(
        """
        op.create_table("events", sa.Column("id", sa.Integer(), primary_key=True))
        op.create_index("ix_events_id", "events", ["id"])
        op.add_column("packages", sa.Column("stars", sa.Integer(), nullable=True))
        op.add_column(
            "packages",
            sa.Column("rank", sa.Integer(), nullable=False, server_default="0"),
        )
        op.create_index("ix_packages_rank", "packages", ["rank"], postgresql_concurrently=True)
        with op.batch_alter_table("packages") as batch_op:
            batch_op.alter_column("rank", nullable=False, server_default="1")
        """
    )
    assert rules(source) == []


def test_downgrade_is_checked_for_data_loss_only():
    source = revision(
        'op.create_table("events", sa.Column("id", sa.Integer(), primary_key=True))',
        downgrade="""
        op.create_index("ix_packages_name", "packages", ["name"])
        op.drop_table("events")
        """,
    )
    assert rules(source) == [(15, "drop_table", "downgrade")]


def test_the_real_history_is_clean():
    findings = lint_paths([SCRIPT_LOCATION / "versions"])
    assert findings == [], "\n".join(map(str, findings))


def test_lint_command(tmp_path, capsys):
    bad = tmp_path / "20990101_bad.py"
    bad.write_text(revision('op.drop_table("packages")'), encoding="utf-8")
    assert main(["lint", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:10: drop_table: upgrade() drops a table and every row in it" in out
    assert "# migration-lint: allow <rule> -- <why it is safe>" in out
    assert main(["lint"]) == 0
    assert main(["lint", str(tmp_path / "missing")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_lint_command_line_on_the_history():
    result = subprocess.run([PYPI_WEB_DB, "lint"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- phase

# Each case: upgrade body and the operation the message must name.
CONTRACT_WORK = {
    "drop table": ('op.drop_table("packages")', "drops table packages"),
    "drop column": (
        """
        with op.batch_alter_table("packages") as batch_op:
            batch_op.drop_column("maintainer_email")
        """,
        "drops column packages.maintainer_email",
    ),
    "drop index": ('op.drop_index("ix_packages_created", "packages")', "drops index ix_packages"),
    "drop constraint": (
        'op.drop_constraint("uq_users_email", "users")',
        "drops constraint uq_users_email",
    ),
    "rename table": ('op.rename_table("packages", "projects")', "renames table packages"),
    "rename column": (
        'op.alter_column("packages", "summary", new_column_name="blurb")',
        "renames column packages.summary",
    ),
    "not null": (
        'op.alter_column("packages", "summary", nullable=False)',
        "makes packages.summary NOT NULL without a server_default",
    ),
    "narrower type": (
        'op.alter_column("packages", "summary", type_=sa.String(20), existing_type=sa.Text())',
        "changes the type of packages.summary",
    ),
    "unique": (
        'op.create_unique_constraint("uq_packages_summary", "packages", ["summary"])',
        "adds a unique constraint to existing table packages",
    ),
    "check": (
        'op.create_check_constraint("ck_x", "packages", "length(name) > 0")',
        "adds a check constraint to existing table packages",
    ),
    "foreign key": (
        'op.create_foreign_key("fk_x", "packages", "users", ["owner_id"], ["id"])',
        "adds a foreign key constraint to existing table packages",
    ),
    "raw sql": (
        'op.execute("ALTER TABLE packages DROP COLUMN maintainer_email")',
        "runs 'ALTER TABLE packages DROP COLUMN maintainer_email'",
    ),
}


def phase_findings(source: str) -> list[str]:
    return [str(f) for f in lint_source(source, "versions/rev.py") if f.rule == "phase"]


@pytest.mark.parametrize("case", sorted(CONTRACT_WORK))
def test_contract_work_declared_expand_is_refused(case):
    body, what = CONTRACT_WORK[case]
    (finding,) = phase_findings(revision(body, phase="expand"))
    assert finding.startswith("versions/rev.py:")
    assert f": phase: upgrade() {what}" in finding
    assert 'declares phase = "expand"' in finding and 'declare phase = "contract"' in finding
    assert phase_findings(revision(body, phase="contract")) == []
    assert phase_for_template(textwrap.dedent(body)) == "contract"


def test_expand_work_declared_expand_passes():
    body = """
        op.create_table("events", sa.Column("id", sa.Integer(), primary_key=True))
        op.create_unique_constraint("uq_events_id", "events", ["id"])
        op.add_column("packages", sa.Column("stars", sa.Integer(), nullable=True))
        op.create_index("ix_packages_stars", "packages", ["stars"], postgresql_concurrently=True)
        op.execute("UPDATE packages SET stars = 0")
        op.alter_column("packages", "rank", nullable=False, server_default="1")
        op.alter_column(
            "packages", "name", type_=sa.String(300), existing_type=sa.String(200)
        )
        op.alter_column("packages", "summary", type_=sa.Text(), existing_type=sa.String(200))
        op.execute("ALTER INDEX ix_a_new RENAME TO ix_a")
    """
    assert phase_findings(revision(body, phase="expand")) == []
    assert phase_for_template(textwrap.dedent(body)) == "expand"


def test_sql_in_a_module_constant_counts():
    source = revision("op.execute(DROP)", phase="expand").replace(
        'phase = "expand"\n', 'phase = "expand"\nDROP = "DROP INDEX IF EXISTS ix_old"\n'
    )
    (finding,) = phase_findings(source)
    assert "runs 'DROP INDEX IF EXISTS ix_old'" in finding


def test_a_missing_or_unknown_phase_is_refused():
    source = revision("pass", phase="expand")
    (missing,) = phase_findings(source.replace('phase = "expand"\n', ""))
    assert missing == (
        'versions/rev.py:1: phase: declares no phase: add phase = "expand" or "contract" '
        "after depends_on"
    )
    (unknown,) = phase_findings(source.replace('"expand"', f'"{PHASE_PLACEHOLDER}"'))
    assert "versions/rev.py:6: phase: phase = 'expand or contract' is neither" in unknown


def test_an_acknowledged_operation_is_not_contract_work():
    source = revision(
        """
        # migration-lint: allow phase -- a duplicate of ix_packages_name; no query uses it
        op.drop_index("ix_packages_name_copy", "packages")
        """,
        phase="expand",
    )
    assert phase_findings(source) == []


def test_the_template_leaves_an_empty_revision_to_its_author():
    assert phase_for_template("") == PHASE_PLACEHOLDER
    assert phase_for_template("pass") == PHASE_PLACEHOLDER
