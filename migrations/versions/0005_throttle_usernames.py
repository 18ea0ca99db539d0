"""shared throttle storage; usernames kept in their normalised (lower-case) form

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "throttle_hits",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("bucket", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_throttle_hits")),
    )
    op.create_index("ix_throttle_hits_bucket_at", "throttle_hits", ["bucket", "at"])
    op.create_index("ix_throttle_hits_at", "throttle_hits", ["at"])

    # Login resolves a username case-insensitively (sync.accounts.users.normalize_username), so the
    # stored names are lower-cased; two names differing only by case cannot both stay.
    connection = op.get_bind()
    clashes = (
        connection.execute(
            sa.text(
                "SELECT lower(username) FROM users GROUP BY lower(username) HAVING count(*) > 1"
            )
        )
        .scalars()
        .all()
    )
    if clashes:
        raise RuntimeError(
            "usernames differing only by case must be renamed first: " + ", ".join(clashes)
        )
    connection.execute(sa.text("UPDATE users SET username = lower(username)"))


def downgrade() -> None:
    op.drop_index("ix_throttle_hits_at", table_name="throttle_hits")
    op.drop_index("ix_throttle_hits_bucket_at", table_name="throttle_hits")
    op.drop_table("throttle_hits")
