"""upstream_projects and upstream_files: the upstream proxy's cache

Two new tables for pypi_web.upstream: each upstream project's PEP 691 page as
last fetched (with its ETag, serial and age), and each of its files fetched,
checked against the upstream's sha256 and stored here. An expand change:
nothing existing is touched, and the release before this one never reads
them. Downgrade drops them, and with them the cache (the files on disk stay,
unreferenced, as an aborted upload's would).

Revision ID: e55cbeed591d
Revises: 55614669c419
Create Date: 2026-12-01 10:00:33.319000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Review before committing (docs/evolving-the-schema.md):
# * Deploys migrate while the previous release still serves: keep this revision
#   compatible with it (new columns nullable or with a server_default; renames as
#   add, copy, drop; drops only once no released code reads the column).
# * Postgres runs each revision with lock_timeout/statement_timeout from the app's
#   migrations.* settings; raise one for a revision with
#   op.execute("SET LOCAL statement_timeout = '10min'").
# * Deliberate dangerous operations need, on the line before:
#   # migration-lint: allow <rule> -- <why>

# revision identifiers, used by Alembic.
revision: str = "e55cbeed591d"
down_revision: str | Sequence[str] | None = "55614669c419"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "upstream_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("normalized_name", sa.String(length=200), nullable=False),
        sa.Column("upstream_url", sa.Text(), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("page", sa.JSON(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("serial", sa.Integer(), nullable=True),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstream_projects")),
        sa.UniqueConstraint("normalized_name", name=op.f("uq_upstream_projects_normalized_name")),
    )
    op.create_table(
        "upstream_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("sha256_digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=600), nullable=False),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["upstream_projects.id"],
            name=op.f("fk_upstream_files_project_id_upstream_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstream_files")),
        sa.UniqueConstraint("filename", name=op.f("uq_upstream_files_filename")),
    )
    with op.batch_alter_table("upstream_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_upstream_files_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("upstream_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upstream_files_project_id"))

    # migration-lint: allow drop_table -- a cache: the upstream is asked again
    op.drop_table("upstream_files")
    # migration-lint: allow drop_table -- a cache: the upstream is asked again
    op.drop_table("upstream_projects")
