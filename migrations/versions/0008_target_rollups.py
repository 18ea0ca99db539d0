"""target rollups: each unit's effective target kept as a row, so progress reads it in the same
query as the counts; partial indexes for gift keys and void targets

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Filled here from the existing targets by the contract's rule (a unit's own target, or else the
sum of its children's when any child has one), written out in this file so that it keeps
doing what it did whatever the code becomes.
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


PARTIAL = {
    "ix_submissions_gift_key": (["campaign_id", "business_key"], "business_key IS NOT NULL"),
    "ix_submissions_void_target": (["void_target"], "void_target IS NOT NULL"),
}


def upgrade() -> None:
    # Only gifts have a business key and only voids a target: partial indexes cost the other
    # rows nothing on insert.
    op.drop_index("ix_submissions_gift_key", table_name="submissions")
    op.drop_index("ix_submissions_void_target", table_name="submissions")
    for name, (columns, where) in PARTIAL.items():
        op.create_index(
            name,
            "submissions",
            columns,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )
    op.create_table(
        "target_rollups",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_target_rollups_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_target_rollups_org_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "org_unit_id", "metric", name=op.f("pk_target_rollups")
        ),
    )
    connection = op.get_bind()
    units = connection.execute(sa.text("SELECT id, parent_id, depth FROM org_units")).all()
    own = defaultdict(dict)
    for campaign_id, unit_id, metric, value in connection.execute(
        sa.text("SELECT campaign_id, org_unit_id, metric, value FROM targets")
    ):
        own[campaign_id][(unit_id, metric)] = value
    rows = []
    for campaign_id, targets in own.items():
        metrics = {metric for _, metric in targets}
        below = defaultdict(int)
        for unit_id, parent_id, _depth in sorted(units, key=lambda u: -u.depth):
            for metric in metrics:
                key = (unit_id, metric)
                value = targets.get(key, below.get(key))
                if value is None:
                    continue
                rows.append(
                    {
                        "campaign_id": campaign_id,
                        "org_unit_id": unit_id,
                        "metric": metric,
                        "value": value,
                    }
                )
                if parent_id is not None:
                    below[(parent_id, metric)] += value
    if rows:
        table = sa.table(
            "target_rollups",
            sa.column("campaign_id"),
            sa.column("org_unit_id"),
            sa.column("metric"),
            sa.column("value"),
        )
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("target_rollups")
    for name, (columns, _) in PARTIAL.items():
        op.drop_index(name, table_name="submissions")
        op.create_index(name, "submissions", columns)
