"""release_files metadata_sha256_digest dropped, renamed core_metadata_sha256_digest

The second half of the rename begun in 5e3c0a1d2b47: a contract revision, run
by the post-deploy step once every server runs code that reads and writes
only core_metadata_sha256_digest (the release before this one already reads
only it). Autogenerate proposed the drop; reviewed to drop the trigger that
kept the two in step first, and to copy any value the new column lacks.

Downgrade restores the old column, backfilled from the new one, and the
trigger: the schema release A runs on.

Revision ID: 8b41f6c2d905
Revises: 5e3c0a1d2b47
Create Date: 2026-12-01 10:25:40.617790

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "8b41f6c2d905"
down_revision: str | Sequence[str] | None = "5e3c0a1d2b47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "contract"

# As 5e3c0a1d2b47 made it (revisions never import one another).
TRIGGER = "release_files_core_metadata_in_step"
SQLITE_TRIGGER = f"""
CREATE TRIGGER {TRIGGER} AFTER INSERT ON release_files
WHEN NEW.core_metadata_sha256_digest IS NULL AND NEW.metadata_sha256_digest IS NOT NULL
BEGIN
    UPDATE release_files SET core_metadata_sha256_digest = NEW.metadata_sha256_digest
    WHERE id = NEW.id;
END
"""
POSTGRES_FUNCTION = f"""
CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.core_metadata_sha256_digest IS NULL THEN
        NEW.core_metadata_sha256_digest := NEW.metadata_sha256_digest;
    END IF;
    RETURN NEW;
END
$$
"""
POSTGRES_TRIGGER = f"""
CREATE TRIGGER {TRIGGER} BEFORE INSERT ON release_files
FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()
"""


def is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if is_postgres():
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON release_files")
        op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
    op.execute(
        "UPDATE release_files SET core_metadata_sha256_digest = metadata_sha256_digest"
        " WHERE core_metadata_sha256_digest IS NULL AND metadata_sha256_digest IS NOT NULL"
    )
    with op.batch_alter_table("release_files", schema=None) as batch_op:
        # migration-lint: allow drop_column -- every value is in core_metadata_sha256_digest
        batch_op.drop_column("metadata_sha256_digest")


def downgrade() -> None:
    with op.batch_alter_table("release_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("metadata_sha256_digest", sa.String(length=64)))
    op.execute(
        "UPDATE release_files SET metadata_sha256_digest = core_metadata_sha256_digest"
        " WHERE core_metadata_sha256_digest IS NOT NULL"
    )
    if is_postgres():
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)
