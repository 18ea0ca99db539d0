"""Device tallies: each phone's stored forms per campaign, org unit and form, kept by the push

The lead's volunteer table grouped a city's submissions on every request (over a second at a
million); it now reads these rows. Filled here from the submissions already stored.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_tallies",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("stored", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"]),
        sa.ForeignKeyConstraint(["org_unit_id"], ["org_units.id"]),
        sa.PrimaryKeyConstraint("campaign_id", "org_unit_id", "device_id", "form"),
    )
    op.execute(
        "INSERT INTO device_tallies (campaign_id, org_unit_id, device_id, form, stored, rejected) "
        "SELECT campaign_id, org_unit_id, device_id, form, count(*), "
        "sum(CASE WHEN double_decision = 'rejected' THEN 1 ELSE 0 END) "
        "FROM submissions GROUP BY campaign_id, org_unit_id, device_id, form"
    )


def downgrade() -> None:
    op.drop_table("device_tallies")
