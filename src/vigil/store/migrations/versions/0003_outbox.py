"""outbox: notifications written before they are sent, with their delivery state; outbox_told: what
each receiver integration was told firing

Revision ID: 0003_outbox
Revises: 0002_alerts
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_outbox"
down_revision = "0002_alerts"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("receiver", sa.Text, nullable=False),
        sa.Column("integration", sa.Text, nullable=False),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("notice", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("next_at", sa.Double, nullable=False),
        sa.Column("first_attempt_at", sa.Double),
        sa.Column("delivered_at", sa.Double),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.UniqueConstraint("key", "receiver", "integration", name="uq_outbox_key_receiver_integration"),
    )
    op.create_index("ix_outbox_state_id", "outbox", ["state", "id"])
    op.create_index("ix_outbox_group", "outbox", ["receiver", "integration", "group_key", "id"])
    op.create_index("ix_outbox_state_updated", "outbox", ["state", "updated_at"])
    op.create_table(
        "outbox_told",
        sa.Column("receiver", sa.Text, primary_key=True),
        sa.Column("integration", sa.Text, primary_key=True),
        sa.Column("group_key", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outbox_told")
    op.drop_table("outbox")
