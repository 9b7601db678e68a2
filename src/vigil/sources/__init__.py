"""Everything vigil collects: probes (http, tcp, command) and metric sources (scrape, promql).

The engine uses:
- `build_collectors(config)` -> one `Collector` per probe and metric source;
- `Scheduler(collectors, clock, deliver, max_concurrency)`: `await start()`, `await stop()`;
  `deliver(collection)` is called for every run, with probe results already turned into samples;
- `HealthTracker.from_config(config)`: `observe(probe_result)` -> `HealthChange | None`.
"""

from __future__ import annotations

from vigil.config.schema import Service, VigilConfig
from vigil.registry import Registry
from vigil.sources.base import METRIC_KINDS, PROBE_KINDS, Collection, Collector, FakeCollector, probe_samples
from vigil.sources.health import HealthChange, HealthTracker, Thresholds
from vigil.sources.http_client import HttpPool
from vigil.sources.scheduler import Scheduler, SchedulerStats

COLLECTORS: Registry[Collector] = Registry("source", {
    "http": "vigil.sources.http:HttpProbeCollector",
    "tcp": "vigil.sources.tcp:TcpProbeCollector",
    "command": "vigil.sources.command:CommandProbeCollector",
    "scrape": "vigil.sources.scrape:ScrapeCollector",
    "promql": "vigil.sources.promql:PromqlCollector",
})


def metric_source_names(service: Service) -> list[str]:
    """Each metric source's name: a PromQL source's `name`, else its kind; numbered on repeats."""
    names: list[str] = []
    for m in service.metrics:
        base = getattr(m, "name", None) or m.kind
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


def build_collectors(config: VigilConfig, http: HttpPool | None = None) -> list[Collector]:
    """One collector per probe and metric source, all HTTP ones sharing one connection pool."""
    http = http or HttpPool()
    out: list[Collector] = []
    for service in config.services:
        for probe, name in zip(service.probes, service.probe_names()):
            out.append(COLLECTORS.create(probe.kind, service.name, name, probe, http))
        for source, name in zip(service.metrics, metric_source_names(service)):
            out.append(COLLECTORS.create(source.kind, service.name, name, source, http))
    return out


__all__ = [
    "COLLECTORS", "METRIC_KINDS", "PROBE_KINDS", "Collection", "Collector", "FakeCollector", "HealthChange",
    "HealthTracker", "HttpPool", "Scheduler", "SchedulerStats", "Thresholds", "build_collectors",
    "metric_source_names", "probe_samples",
]
