"""rename packages.home_page to homepage_url

Autogenerate proposed drop home_page + add homepage_url, which would have
thrown every package's home page away. Reviewed into add, copy, drop, so
no data is lost in either direction.

Revision ID: 14123ea58e77
Revises: a9a83eac6085
Create Date: 2026-11-23 21:39:18.518213

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "14123ea58e77"
down_revision: str | Sequence[str] | None = "a9a83eac6085"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "contract"


def upgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("homepage_url", sa.Text(), nullable=True))
    op.execute("UPDATE packages SET homepage_url = home_page")
    with op.batch_alter_table("packages", schema=None) as batch_op:
        # migration-lint: allow drop_column -- its data was copied to homepage_url above
        batch_op.drop_column("home_page")


def downgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("home_page", sa.Text(), nullable=True))
    op.execute("UPDATE packages SET home_page = homepage_url")
    with op.batch_alter_table("packages", schema=None) as batch_op:
        # migration-lint: allow drop_column -- its data was copied back to home_page above
        batch_op.drop_column("homepage_url")
