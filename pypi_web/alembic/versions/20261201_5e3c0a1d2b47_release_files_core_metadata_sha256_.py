"""release_files core_metadata_sha256_digest added, backfilled, kept in step

The first half of renaming release_files.metadata_sha256_digest to
core_metadata_sha256_digest (PEP 714's name, and the JSON API's
"core-metadata"). Autogenerate proposed the add; reviewed into add, backfill
and a trigger, so the release before this one keeps working:

* it reads and writes only metadata_sha256_digest, which stays;
* what it inserts while this revision is applied and it still serves (a
  rolling deploy, or a rollback) gets the new column filled by the trigger;
  this release writes both columns itself.

The next release's contract revision drops the old column and the trigger.

Revision ID: 5e3c0a1d2b47
Revises: 469238611650
Create Date: 2026-12-01 10:10:19.643382

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5e3c0a1d2b47"
down_revision: str | Sequence[str] | None = "469238611650"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

TRIGGER = "release_files_core_metadata_in_step"

# Digests are written once, when a file is uploaded, so inserts are all there is to follow.
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


def upgrade() -> None:
    with op.batch_alter_table("release_files", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("core_metadata_sha256_digest", sa.String(length=64), nullable=True)
        )
    op.execute(
        "UPDATE release_files SET core_metadata_sha256_digest = metadata_sha256_digest"
        " WHERE metadata_sha256_digest IS NOT NULL"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}" + _on_table())
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
    with op.batch_alter_table("release_files", schema=None) as batch_op:
        # migration-lint: allow drop_column -- metadata_sha256_digest still holds every value
        batch_op.drop_column("core_metadata_sha256_digest")


def _on_table() -> str:
    return " ON release_files" if op.get_bind().dialect.name == "postgresql" else ""
