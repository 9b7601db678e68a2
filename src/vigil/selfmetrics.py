"""vigil's metrics about itself, exposed at /metrics. One registry per engine (no globals), so
tests and several engines in one process do not share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class SelfMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.samples_ingested = Counter("vigil_samples_ingested", "Samples written to the store",
                                        ["source"], registry=r)
        self.samples_rejected = Counter("vigil_samples_rejected", "Samples refused (bad input)",
                                        ["source"], registry=r)
        self.probes_run = Counter("vigil_probes", "Probes run", ["service", "probe", "outcome"], registry=r)
        self.probe_duration = Histogram("vigil_probe_duration_seconds", "Probe durations",
                                        ["service", "probe"], registry=r,
                                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.collect_start_lag_p99 = Gauge("vigil_collect_start_lag_p99_seconds",
                                           "p99 of how late probes and scrapes started against their "
                                           "schedule (recent runs)", registry=r)
        self.queue_depth = Gauge("vigil_pipeline_queue_depth", "Collections waiting for the pipeline",
                                 registry=r)
        self.writes_in_flight = Gauge("vigil_store_writes_in_flight", "Store writes queued or running",
                                      registry=r)
        self.loop_lag = Gauge("vigil_event_loop_lag_seconds", "Event loop scheduling lag, last measured",
                              registry=r)
        self.pipeline_duration = Histogram("vigil_pipeline_pass_seconds", "Time for one pipeline pass",
                                           ["stage"], registry=r,
                                           buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5))
        self.stage_errors = Counter("vigil_stage_errors", "Pipeline stage failures", ["stage"], registry=r)
        self.service_healthy = Gauge("vigil_service_healthy", "1 healthy, 0 unhealthy, -1 unknown",
                                     ["service"], registry=r)
