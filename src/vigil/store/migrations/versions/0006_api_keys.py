"""api_keys: one row per version of a key (hash, scopes, expiry, rotation, revocation, use)

Revision ID: 0006_api_keys
Revises: 0005_incidents
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_api_keys"
down_revision = "0005_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("hash", sa.Text, nullable=False, unique=True),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("rotated_at", sa.Double, nullable=True),
        sa.Column("revoked_at", sa.Double, nullable=True),
        sa.Column("last_used_at", sa.Double, nullable=True),
        sa.Column("use_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.UniqueConstraint("name", "version", name="uq_api_keys_name_version"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
