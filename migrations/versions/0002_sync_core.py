"""sync core

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 02:08:03.009790
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed",
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("entity", "key", name=op.f("pk_feed")),
    )
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.create_index("ix_feed_seq", ["seq"], unique=False)

    op.create_table(
        "feed_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_clock")),
    )
    # The feed starts with everything that already exists, at sequence 1.
    op.execute(
        sa.text("INSERT INTO feed_clock (id, seq, epoch) VALUES (1, 1, :epoch)").bindparams(
            epoch=uuid.uuid4().hex
        )
    )
    op.execute(
        "INSERT INTO feed (entity, key, seq, path, deleted) "
        "SELECT 'org_unit', code, 1, path, false FROM org_units"
    )
    op.execute(
        "INSERT INTO feed (entity, key, seq, path, deleted) "
        "SELECT 'campaign', code, 1, NULL, false FROM campaigns"
    )
    op.execute(
        "INSERT INTO feed (entity, key, seq, path, deleted) "
        "SELECT 'target', c.code || '|' || o.code || '|' || t.metric, 1, o.path, false "
        "FROM targets t JOIN campaigns c ON c.id = t.campaign_id "
        "JOIN org_units o ON o.id = t.org_unit_id"
    )
    op.create_table(
        "activation_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("citizen_hash", sa.String(length=64), nullable=False),
        sa.Column("citizen_masked", sa.String(length=12), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_activation_records_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_units.id"],
            name=op.f("fk_activation_records_org_unit_id_org_units"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activation_records")),
        sa.UniqueConstraint(
            "campaign_id", "citizen_hash", name=op.f("uq_activation_records_campaign_id")
        ),
    )
    with op.batch_alter_table("activation_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activation_records_org_unit_id"), ["org_unit_id"], unique=False
        )

    op.create_table(
        "counters",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_counters_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_counters_org_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "org_unit_id", "metric", "day", name=op.f("pk_counters")
        ),
    )
    op.create_table(
        "households",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("address_hlc", sa.String(length=120), nullable=False),
        sa.Column("unit_hlc", sa.String(length=120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_households_org_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
    )
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_households_org_unit_id"), ["org_unit_id"], unique=False
        )

    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["family_id"], ["token_families.id"], name=op.f("fk_devices_family_id_token_families")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_devices_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("family_id", name=op.f("uq_devices_family_id")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_user_id"), ["user_id"], unique=False)

    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("submissions", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("resolution", sa.JSON(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_review_items_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_review_items_org_unit_id_org_units")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["activation_records.id"],
            name=op.f("fk_review_items_record_id_activation_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index("ix_review_items_open", ["campaign_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_items_subject"), ["subject"], unique=False)

    op.create_table(
        "device_org_units",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_device_org_units_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_units.id"],
            name=op.f("fk_device_org_units_org_unit_id_org_units"),
        ),
        sa.PrimaryKeyConstraint("device_id", "org_unit_id", name=op.f("pk_device_org_units")),
    )
    op.create_table(
        "enrollment_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("org_unit_ids", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_enrollment_codes_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_enrollment_codes_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["users.id"], name=op.f("fk_enrollment_codes_volunteer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_enrollment_codes_code_hash")),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hlc", sa.String(length=80), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("void_target", sa.String(length=36), nullable=True),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("double_decision", sa.String(length=16), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_submissions_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_submissions_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_submissions_org_unit_id_org_units")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["activation_records.id"],
            name=op.f("fk_submissions_record_id_activation_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
    )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index("ix_submissions_campaign_seq", ["campaign_id", "seq"], unique=False)
        batch_op.create_index(
            "ix_submissions_gift_key", ["campaign_id", "business_key"], unique=False
        )
        batch_op.create_index(
            "ix_submissions_household", ["campaign_id", "household_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_submissions_org_unit_id"), ["org_unit_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_submissions_void_target"), ["void_target"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submissions_void_target"))
        batch_op.drop_index(batch_op.f("ix_submissions_org_unit_id"))
        batch_op.drop_index("ix_submissions_household")
        batch_op.drop_index("ix_submissions_gift_key")
        batch_op.drop_index("ix_submissions_campaign_seq")

    op.drop_table("submissions")
    op.drop_table("enrollment_codes")
    op.drop_table("device_org_units")
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_items_subject"))
        batch_op.drop_index("ix_review_items_open")

    op.drop_table("review_items")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_user_id"))

    op.drop_table("devices")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_households_org_unit_id"))

    op.drop_table("households")
    op.drop_table("counters")
    with op.batch_alter_table("activation_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activation_records_org_unit_id"))

    op.drop_table("activation_records")
    op.drop_table("feed_clock")
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_seq")

    op.drop_table("feed")
