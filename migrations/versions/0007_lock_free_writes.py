"""writers that never queue on a shared row: feed positions (transaction id, sequence) instead
of the feed clock's lock, and counter and rollup rows in shards

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Rows written before this migration keep their sequence numbers with transaction id 0, which
sorts before every real transaction id, so cursors taken before it still read
(``sync.feed.positions``).
On PostgreSQL the sequence numbers come from ``feed_seq`` from now on, starting after the
feed clock's last number. Existing counter and rollup rows become shard 0
(``sync.progress.counters``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


COUNTER_KEY = ["campaign_id", "org_unit_id", "metric", "day"]


def upgrade() -> None:
    for table in ("counters", "rollups"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("shard", sa.SmallInteger(), nullable=False, server_default="0")
            )
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", [*COUNTER_KEY, "shard"])
    for table in ("feed", "submissions"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("xid", sa.BigInteger(), nullable=False, server_default="0")
            )
    with op.batch_alter_table("feed") as batch_op:
        batch_op.drop_index("ix_feed_seq")
        batch_op.create_index("ix_feed_position", ["xid", "seq"], unique=False)
    with op.batch_alter_table("submissions") as batch_op:
        batch_op.drop_index("ix_submissions_campaign_seq")
        batch_op.create_index(
            "ix_submissions_campaign_position", ["campaign_id", "xid", "seq"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        last = op.get_bind().execute(sa.text("SELECT seq FROM feed_clock WHERE id = 1")).scalar()
        op.execute(f"CREATE SEQUENCE feed_seq AS bigint START WITH {int(last or 0) + 1}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE feed_clock SET seq = GREATEST(seq, (SELECT last_value FROM feed_seq))")
        op.execute("DROP SEQUENCE feed_seq")
    with op.batch_alter_table("submissions") as batch_op:
        batch_op.drop_index("ix_submissions_campaign_position")
        batch_op.create_index("ix_submissions_campaign_seq", ["campaign_id", "seq"], unique=False)
    with op.batch_alter_table("feed") as batch_op:
        batch_op.drop_index("ix_feed_position")
        batch_op.create_index("ix_feed_seq", ["seq"], unique=False)
    for table in ("feed", "submissions"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("xid")
    for table in ("counters", "rollups"):
        key = ", ".join(COUNTER_KEY)
        folded = f"SELECT {key}, sum(value) AS value FROM {table} GROUP BY {key}"
        op.execute(f"CREATE TABLE folded_{table} AS {folded}")
        op.execute(f"DELETE FROM {table}")
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", COUNTER_KEY)
            batch_op.drop_column("shard")
        op.execute(f"INSERT INTO {table} ({key}, value) SELECT {key}, value FROM folded_{table}")
        op.execute(f"DROP TABLE folded_{table}")
