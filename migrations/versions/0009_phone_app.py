"""the phone app: refresh-token lineage for the grace window, a phone's receipt by device

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_refresh_tokens_parent_id_refresh_tokens"),
            "refresh_tokens",
            ["parent_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_parent_id"), ["parent_id"], unique=False
        )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index("ix_submissions_device", ["device_id", "received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_submissions_device")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_parent_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_refresh_tokens_parent_id_refresh_tokens"), type_="foreignkey"
        )
        batch_op.drop_column("superseded_at")
        batch_op.drop_column("parent_id")
