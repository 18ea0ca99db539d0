"""rollups (subtree sums of the progress counters) and lead corrections

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
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("hlc", sa.String(length=80), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=False),
        sa.Column("review_item_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["activation_records.id"],
            name=op.f("fk_corrections_record_id_activation_records"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name=op.f("fk_corrections_actor_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["review_item_id"],
            ["review_items.id"],
            name=op.f("fk_corrections_review_item_id_review_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
    )
    with op.batch_alter_table("corrections") as batch_op:
        batch_op.create_index(batch_op.f("ix_corrections_record_id"), ["record_id"], unique=False)
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
    op.drop_table("corrections")
    op.drop_table("rollups")
