"""incidents: incidents, their member alerts and their timeline

Revision ID: 0005_incidents
Revises: 0004_silences
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_incidents"
down_revision = "0004_silences"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("opened_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("acknowledged_at", sa.Double),
        sa.Column("acknowledged_by", sa.Text),
        sa.Column("resolved_at", sa.Double),
        sa.Column("resolved_by", sa.Text),
        sa.Column("assignee", sa.Text),
        sa.Column("reopened", sa.Integer, nullable=False),
        sa.Column("services", sa.Text, nullable=False),
        sa.Column("root_causes", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("escalation", sa.Text, nullable=False),
    )
    op.create_index("ix_incidents_status_opened", "incidents", ["status", "opened_at"])
    op.create_index("ix_incidents_service_opened", "incidents", ["service", "opened_at"])
    op.create_table(
        "incident_members",
        sa.Column("incident_id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.Text, primary_key=True),
        sa.Column("alertname", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("joined_at", sa.Double, nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("firing", sa.Boolean, nullable=False),
        sa.Column("changed_at", sa.Double, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_table(
        "incident_timeline",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_incident_timeline_incident_ts", "incident_timeline", ["incident_id", "ts"])


def downgrade() -> None:
    for table in ("incident_timeline", "incident_members", "incidents"):
        op.drop_table(table)
