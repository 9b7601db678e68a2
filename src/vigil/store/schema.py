"""Table definitions the store's queries use. The migrations in `migrations/versions` create them;
keep the two in step (a test compares them)."""

from __future__ import annotations

import sqlalchemy as sa

# A 64-bit id on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

# Series identity: metric name + sorted labels. `key` is the canonical text (name{a="b"}).
series = sa.Table(
    "series", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False, index=True),
    sa.Column("labels", sa.Text, nullable=False),  # JSON object
    sa.Column("first_ts", sa.Double),  # as of the last compaction
    sa.Column("last_ts", sa.Double),
)

# Write-ahead of samples: one row per write call, columnar blobs (series ids, ts, values).
sample_wal = sa.Table(
    "sample_wal", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("ts_min", sa.Double, nullable=False),
    sa.Column("ts_max", sa.Double, nullable=False),
    sa.Column("series_ids", sa.LargeBinary, nullable=False),  # int32
    sa.Column("ts", sa.LargeBinary, nullable=False),  # float64
    sa.Column("vals", sa.LargeBinary, nullable=False),  # float64
)

# Compacted samples: per series, per hour bucket [t0, t0+3600). Several parts may exist for a bucket
# until it closes; then they are merged into one (rolled = true) and its roll-ups computed.
sample_chunks = sa.Table(
    "sample_chunks", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("series_id", sa.Integer, nullable=False),
    sa.Column("t0", sa.Double, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("ts_min", sa.Double, nullable=False),
    sa.Column("ts_max", sa.Double, nullable=False),
    sa.Column("rolled", sa.Boolean, nullable=False),
    sa.Column("ts", sa.LargeBinary, nullable=False),  # packed float64
    sa.Column("vals", sa.LargeBinary, nullable=False),  # packed float64
    sa.Index("ix_sample_chunks_series_t0", "series_id", "t0"),
    sa.Index("ix_sample_chunks_rolled_t0", "rolled", "t0"),
)

# Roll-ups: per series, resolution ('1m': one row per hour, 60 slots; '1h': one row per day, 24
# slots); data = float64 (count, sum, min, max) x slots, count 0 for an empty slot.
rollups = sa.Table(
    "rollups", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("resolution", sa.String(4), nullable=False),
    sa.Column("series_id", sa.Integer, nullable=False),
    sa.Column("t0", sa.Double, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("resolution", "series_id", "t0", name="uq_rollups_res_series_t0"),
)

# Text, not VARCHAR(n), for names and kinds: PostgreSQL would reject a longer value (SQLite would
# not), and a state key or a series in a signal can be long.

# Small named numbers the store keeps about itself (e.g. how far roll-ups are complete).
store_marks = sa.Table(
    "store_marks", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Double, nullable=False),
)

services = sa.Table(
    "services", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("depends_on", sa.Text, nullable=False),  # JSON list
    sa.Column("labels", sa.Text, nullable=False),  # JSON object
    sa.Column("updated_at", sa.Double, nullable=False),
)

probe_results = sa.Table(
    "probe_results", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("service", sa.Text, nullable=False),
    sa.Column("probe", sa.Text, nullable=False),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("latency_s", sa.Double, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("values", sa.Text, nullable=False),  # JSON object
    sa.Index("ix_probe_results_service_probe_ts", "service", "probe", "ts"),
    sa.Index("ix_probe_results_ts", "ts"),
)

health = sa.Table(
    "health", metadata,
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("probe", sa.Text, primary_key=True),
    sa.Column("health", sa.Text, nullable=False),
    sa.Column("since", sa.Double, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

events = sa.Table(
    "events", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("service", sa.Text),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # JSON object
    sa.Index("ix_events_ts", "ts"),
    sa.Index("ix_events_service_ts", "service", "ts"),
    sa.Index("ix_events_kind_ts", "kind", "ts"),
)

signals = sa.Table(
    "signals", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
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
    sa.Column("evidence", sa.Text, nullable=False),  # JSON object
    sa.Index("ix_signals_ts", "ts"),
    sa.Index("ix_signals_service_ts", "service", "ts"),
)

decisions = sa.Table(
    "decisions", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),  # JSON object
    sa.Column("result", sa.Text, nullable=False),  # JSON object
    sa.Index("ix_decisions_ts", "ts"),
    sa.Index("ix_decisions_subject_ts", "subject", "ts"),
    sa.Index("ix_decisions_kind_ts", "kind", "ts"),
)

state = sa.Table(
    "state", metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("blob", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

# Alerts with their lifecycle: one row per fingerprint, its latest episode (a fingerprint that fires
# again after resolving starts a new episode in the same row; the event log keeps every transition).
alerts = sa.Table(
    "alerts", metadata,
    sa.Column("fingerprint", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("service", sa.Text, nullable=False),
    sa.Column("alertname", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("starts_at", sa.Double, nullable=False),
    sa.Column("ends_at", sa.Double),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("labels", sa.Text, nullable=False),  # JSON object
    sa.Column("annotations", sa.Text, nullable=False),  # JSON object
    sa.Column("evidence", sa.Text, nullable=False),  # JSON object
    sa.Column("generator_url", sa.Text, nullable=False),
    sa.Column("timeout", sa.Boolean, nullable=False),  # ends_at set by vigil's resolve_timeout
    sa.Index("ix_alerts_status_starts", "status", "starts_at"),
    sa.Index("ix_alerts_service_starts", "service", "starts_at"),
)

# Incidents: one row each, rewritten as it changes; its alerts and its story beside it.
incidents = sa.Table(
    "incidents", metadata,
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
    sa.Column("services", sa.Text, nullable=False),  # JSON list
    sa.Column("root_causes", sa.Text, nullable=False),  # JSON list of suspects
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("escalation", sa.Text, nullable=False),  # JSON object
    sa.Index("ix_incidents_status_opened", "status", "opened_at"),
    sa.Index("ix_incidents_opened_id", "opened_at", "id"),  # the listing's order, every status
    sa.Index("ix_incidents_service_opened", "service", "opened_at"),
)

incident_members = sa.Table(
    "incident_members", metadata,
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

incident_timeline = sa.Table(
    "incident_timeline", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, nullable=False),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # JSON object
    sa.Index("ix_incident_timeline_incident_ts", "incident_id", "ts"),
)

# Silences (incidents/silences.py): every silence until its retention after the end has passed.
silences = sa.Table(
    "silences", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("matchers", sa.Text, nullable=False),  # JSON list of {name, value, isRegex, isEqual}
    sa.Column("starts_at", sa.Double, nullable=False),
    sa.Column("ends_at", sa.Double, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Index("ix_silences_ends_at", "ends_at"),
)

# API keys (vigil/keys): one row per version of a key; only a SHA-256 of the key is kept.
api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("hash", sa.Text, nullable=False, unique=True),
    sa.Column("scopes", sa.Text, nullable=False),  # space-separated
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),  # cut to the grace period's end on rotation
    sa.Column("rotated_at", sa.Double, nullable=True),
    sa.Column("revoked_at", sa.Double, nullable=True),
    sa.Column("last_used_at", sa.Double, nullable=True),
    sa.Column("use_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.UniqueConstraint("name", "version", name="uq_api_keys_name_version"),
)

# The notification outbox: one row per notice and receiver integration (`webhook[0]`), written before
# anything is sent. `state` is pending | sending | delivered | dead | skipped; `sending` is written
# before each attempt, so after a crash the rows still `sending` are exactly those in flight. The
# notice is stored whole (JSON) with its receiver's name, never an endpoint URL or credential.
outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.Text, nullable=False),  # the notice's idempotency key
    sa.Column("receiver", sa.Text, nullable=False),
    sa.Column("integration", sa.Text, nullable=False),
    sa.Column("group_key", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # firing | resolved
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("notice", sa.Text, nullable=False),  # JSON
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
    sa.Index("ix_outbox_state_id", "state", "id"),
    sa.Index("ix_outbox_group", "receiver", "integration", "group_key", "id"),
    sa.Index("ix_outbox_state_updated", "state", "updated_at"),
)

# What each receiver integration was last told about a group, when that was "firing": a resolved
# notice is delivered only where its firing one was (Alertmanager's notification log does the same),
# and this survives restarts and the pruning of old outbox rows.
outbox_told = sa.Table(
    "outbox_told", metadata,
    sa.Column("receiver", sa.Text, primary_key=True),
    sa.Column("integration", sa.Text, primary_key=True),
    sa.Column("group_key", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, nullable=False),  # the firing notice delivered
    sa.Column("updated_at", sa.Double, nullable=False),
)

# The audit log (vigil.audit): append-only, one row per decision or action, each carrying the hash of
# the one before it (`prev_hash`) and its own (`hash`, sha256 over the canonical JSON of the row).
# `id` is given by the appender under the chain lock (not auto-incremented), so the chain has no gaps.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),  # engine | rule:NAME | key:NAME | user:NAME
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),  # JSON: why (incident, signal, rule) or a sentence
    sa.Column("inputs", sa.Text, nullable=False),  # JSON, secrets masked
    sa.Column("result", sa.Text, nullable=False),  # JSON
    sa.Column("duration_s", sa.Double, nullable=False),
    sa.Column("incident_id", sa.Integer),
    sa.Column("service", sa.Text),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    sa.Index("ix_audit_log_ts", "ts"),
    sa.Index("ix_audit_log_service_id", "service", "id"),
    sa.Index("ix_audit_log_incident_id", "incident_id", "id"),
)

# Remediation actions (heal/ledger.py): one row per action, its state machine's state and idempotency
# key in columns (queried), the rest (reason, story, verification times) as a JSON body.
actions = sa.Table(
    "actions", metadata,
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
    sa.Index("ix_actions_state_id", "state", "id"),
    sa.Index("ix_actions_service_created", "service", "created_at"),
)

# Maintenance windows runbooks opened (heal/windows.py): one per service, until `ends_at`.
maintenance_windows = sa.Table(
    "maintenance_windows", metadata,
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("starts_at", sa.Double, nullable=False),
    sa.Column("ends_at", sa.Double, nullable=False),
    sa.Column("opened_by", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

# Each step of an action, written `running` before it starts and with its outcome after.
action_steps = sa.Table(
    "action_steps", metadata,
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
