"""actions: remediation actions (persisted state machines) and their step records

Revision ID: 0008_actions
Revises: 0007_audit
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_actions"
down_revision = "0007_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("runbook", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("incident_id", sa.Integer),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_actions_state_id", "actions", ["state", "id"])
    op.create_index("ix_actions_service_created", "actions", ["service", "created_at"])
    op.create_table(
        "action_steps",
        sa.Column("action_id", sa.Integer, primary_key=True),
        sa.Column("phase", sa.Text, primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("finished_at", sa.Double),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("action_steps", "actions"):
        op.drop_table(table)
