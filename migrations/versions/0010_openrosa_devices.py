"""OpenRosa devices (ODK Collect, Enketo): the hashed key in a device's server URL

A new column and a unique index, with no table rebuilt: on SQLite a batch rebuild of
``devices`` would have to drop a table other rows point at.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("openrosa_key_hash", sa.String(length=64), nullable=True))
    op.create_index(
        op.f("ix_devices_openrosa_key_hash"), "devices", ["openrosa_key_hash"], unique=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_devices_openrosa_key_hash"), table_name="devices")
    op.drop_column("devices", "openrosa_key_hash")  # SQLite 3.35+ drops a column in place
