"""maintenance: the maintenance windows runbooks open, kept across restarts

Before, a `maintenance` step's window lived in memory: a restart of vigil closed every open window
and runbooks could act on a service someone meant to leave alone.

Revision ID: 0010_maintenance
Revises: 0009_incident_order
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_maintenance"
down_revision = "0009_incident_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_windows",
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("starts_at", sa.Double, nullable=False),
        sa.Column("ends_at", sa.Double, nullable=False),
        sa.Column("opened_by", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("maintenance_windows")
