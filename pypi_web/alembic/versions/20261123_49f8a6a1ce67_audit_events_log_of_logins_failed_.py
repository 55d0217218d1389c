"""audit_events: log of logins, failed logins, uploads and token changes

A new table with the indexes its readers need: throttling counts recent
failed logins per username and per address, and the account and project
pages list events per user and per package, newest first.

Revision ID: 49f8a6a1ce67
Revises: 14123ea58e77
Create Date: 2026-11-23 21:43:15.658327

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "49f8a6a1ce67"
down_revision: str | Sequence[str] | None = "14123ea58e77"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=50), nullable=True),
        sa.Column("package_name", sa.String(length=200), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("additional", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_audit_events_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_ip_address_created", ["ip_address", "created"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_package_name_created", ["package_name", "created"], unique=False
        )
        batch_op.create_index("ix_audit_events_tag_created", ["tag", "created"], unique=False)
        batch_op.create_index(
            "ix_audit_events_user_id_created", ["user_id", "created"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_username_created", ["username", "created"], unique=False
        )


def downgrade() -> None:
    # Going down discards the audit log; it is history, not site data.
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_username_created")
        batch_op.drop_index("ix_audit_events_user_id_created")
        batch_op.drop_index("ix_audit_events_tag_created")
        batch_op.drop_index("ix_audit_events_package_name_created")
        batch_op.drop_index("ix_audit_events_ip_address_created")

    # migration-lint: allow drop_table -- downgrade of the table this revision creates
    op.drop_table("audit_events")
