"""initial: series, samples (write-ahead, chunks, roll-ups), services, probes, health, events,
signals, decisions, state

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column:
    return sa.Column("id", BigId, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("first_ts", sa.Double),
        sa.Column("last_ts", sa.Double),
    )
    op.create_index("ix_series_name", "series", ["name"])
    op.create_table(
        "sample_wal", _id(),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("ts_min", sa.Double, nullable=False),
        sa.Column("ts_max", sa.Double, nullable=False),
        sa.Column("series_ids", sa.LargeBinary, nullable=False),
        sa.Column("ts", sa.LargeBinary, nullable=False),
        sa.Column("vals", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "sample_chunks", _id(),
        sa.Column("series_id", sa.Integer, nullable=False),
        sa.Column("t0", sa.Double, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("ts_min", sa.Double, nullable=False),
        sa.Column("ts_max", sa.Double, nullable=False),
        sa.Column("rolled", sa.Boolean, nullable=False),
        sa.Column("ts", sa.LargeBinary, nullable=False),
        sa.Column("vals", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_sample_chunks_series_t0", "sample_chunks", ["series_id", "t0"])
    op.create_index("ix_sample_chunks_rolled_t0", "sample_chunks", ["rolled", "t0"])
    op.create_table(
        "rollups", _id(),
        sa.Column("resolution", sa.String(4), nullable=False),
        sa.Column("series_id", sa.Integer, nullable=False),
        sa.Column("t0", sa.Double, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("resolution", "series_id", "t0", name="uq_rollups_res_series_t0"),
    )
    op.create_table(
        "store_marks",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Double, nullable=False),
    )
    op.create_table(
        "services",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("depends_on", sa.Text, nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_table(
        "probe_results", _id(),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("probe", sa.Text, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("latency_s", sa.Double, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("values", sa.Text, nullable=False),
    )
    op.create_index("ix_probe_results_service_probe_ts", "probe_results", ["service", "probe", "ts"])
    op.create_index("ix_probe_results_ts", "probe_results", ["ts"])
    op.create_table(
        "health",
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("probe", sa.Text, primary_key=True),
        sa.Column("health", sa.Text, nullable=False),
        sa.Column("since", sa.Double, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "events", _id(),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("service", sa.Text),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_events_ts", "events", ["ts"])
    op.create_index("ix_events_service_ts", "events", ["service", "ts"])
    op.create_index("ix_events_kind_ts", "events", ["kind", "ts"])
    op.create_table(
        "signals", _id(),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("series", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("window_start", sa.Double),
        sa.Column("window_end", sa.Double),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_index("ix_signals_ts", "signals", ["ts"])
    op.create_index("ix_signals_service_ts", "signals", ["service", "ts"])
    op.create_table(
        "decisions", _id(),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
    )
    op.create_index("ix_decisions_ts", "decisions", ["ts"])
    op.create_index("ix_decisions_subject_ts", "decisions", ["subject", "ts"])
    op.create_index("ix_decisions_kind_ts", "decisions", ["kind", "ts"])
    op.create_table(
        "state",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("blob", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    for table in ("state", "decisions", "signals", "events", "health", "probe_results", "services",
                  "store_marks", "rollups", "sample_chunks", "sample_wal", "series"):
        op.drop_table(table)
