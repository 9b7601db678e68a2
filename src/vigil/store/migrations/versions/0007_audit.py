"""audit: the append-only, hash-chained audit log

Revision ID: 0007_audit
Revises: 0006_api_keys
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_audit"
down_revision = "0006_api_keys"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("duration_s", sa.Double, nullable=False),
        sa.Column("incident_id", sa.Integer),
        sa.Column("service", sa.Text),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_log_ts", "audit_log", ["ts"])
    op.create_index("ix_audit_log_service_id", "audit_log", ["service", "id"])
    op.create_index("ix_audit_log_incident_id", "audit_log", ["incident_id", "id"])


def downgrade() -> None:
    op.drop_table("audit_log")
