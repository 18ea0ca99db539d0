"""rollups: subtree sums of the progress counters

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollups",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_rollups_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_rollups_org_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "org_unit_id", "metric", "day", name=op.f("pk_rollups")
        ),
    )
    # Existing counters, summed into every ancestor (paths are "/1/4/17/").
    connection = op.get_bind()
    paths = dict(connection.execute(sa.text("SELECT id, path FROM org_units")).all())
    totals: dict[tuple, int] = {}
    rows = connection.execute(
        sa.text("SELECT campaign_id, org_unit_id, metric, day, value FROM counters")
    )
    for campaign_id, unit_id, metric, day, value in rows:
        for ancestor in (int(p) for p in paths[unit_id].strip("/").split("/")):
            key = (campaign_id, ancestor, metric, day)
            totals[key] = totals.get(key, 0) + value
    if totals:
        rollups = sa.table(
            "rollups",
            sa.column("campaign_id"),
            sa.column("org_unit_id"),
            sa.column("metric"),
            sa.column("day", sa.Date()),
            sa.column("value"),
        )
        op.bulk_insert(
            rollups,
            [
                {"campaign_id": c, "org_unit_id": u, "metric": m, "day": d, "value": v}
                for (c, u, m, d), v in totals.items()
            ],
        )


def downgrade() -> None:
    op.drop_table("rollups")
