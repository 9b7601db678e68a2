"""alerts: one row per alert fingerprint with its lifecycle (firing/resolved)

Revision ID: 0002_alerts
Revises: 0001_initial
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_alerts"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("fingerprint", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("alertname", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("starts_at", sa.Double, nullable=False),
        sa.Column("ends_at", sa.Double),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("annotations", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("generator_url", sa.Text, nullable=False),
        sa.Column("timeout", sa.Boolean, nullable=False),
    )
    op.create_index("ix_alerts_status_starts", "alerts", ["status", "starts_at"])
    op.create_index("ix_alerts_service_starts", "alerts", ["service", "starts_at"])


def downgrade() -> None:
    op.drop_table("alerts")
