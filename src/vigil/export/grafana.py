"""`vigil export grafana`: a Grafana dashboard (JSON, schema 39) for vigil's own /metrics and the
SLOs of the configured services. The SLO panels read the recording rules of
`vigil export prometheus-rules`; the data source is a dashboard variable, so it imports anywhere."""

from __future__ import annotations

from typing import Any

import orjson

from vigil.export.promql import duration, metric_selector, recorded, slos

DS = {"type": "prometheus", "uid": "${datasource}"}

SELF_PANELS: list[tuple[str, str, str, list[str]]] = [
    # title, unit, legend, expressions
    ("Samples ingested", "ops", "{{source}}", ['sum by (source) (rate(vigil_samples_ingested_total{job="$job"}[5m]))']),
    ("Samples refused", "ops", "{{source}}", ['sum by (source) (rate(vigil_samples_rejected_total{job="$job"}[5m]))']),
    ("Probes by outcome", "ops", "{{outcome}}", ['sum by (outcome) (rate(vigil_probes_total{job="$job"}[5m]))']),
    ("Probe latency p95", "s", "{{service}}/{{probe}}",
     ['histogram_quantile(0.95, sum by (le, service, probe) '
      '(rate(vigil_probe_duration_seconds_bucket{job="$job"}[5m])))']),
    ("Probe start lag p99", "s", "lag", ['vigil_collect_start_lag_p99_seconds{job="$job"}']),
    ("Event loop lag", "s", "lag", ['vigil_event_loop_lag_seconds{job="$job"}']),
    ("Pipeline pass p95 by stage", "s", "{{stage}}",
     ['histogram_quantile(0.95, sum by (le, stage) (rate(vigil_pipeline_pass_seconds_bucket{job="$job"}[5m])))']),
    ("Queues", "short", "{{__name__}}",
     ['vigil_pipeline_queue_depth{job="$job"}', 'vigil_store_writes_in_flight{job="$job"}']),
    ("Stage errors", "ops", "{{stage}}", ['sum by (stage) (rate(vigil_stage_errors_total{job="$job"}[5m]))']),
    ("Service health (1 healthy, 0 unhealthy, -1 unknown)", "short", "{{service}}",
     ['vigil_service_healthy{job="$job"}']),
]


def expressions(config: Any) -> list[str]:
    """Every PromQL expression of the dashboard ($job as vigil), for checking."""
    board = dashboard(config)
    return [t["expr"].replace("$job", "vigil") for p in board["panels"] for t in p.get("targets", [])]


def dashboard(config: Any) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    panels.append(_row("vigil", y))
    y += 1
    for i, (title, unit, legend, exprs) in enumerate(SELF_PANELS):
        panels.append(_timeseries(title, unit, legend, exprs, x=(i % 2) * 12, y=y + (i // 2) * 8))
    y += ((len(SELF_PANELS) + 1) // 2) * 8
    for service, slo in slos(config):
        panels.append(_row(f"{service}: SLO {slo.name} ({slo.objective:g} % over {duration(slo.window)})", y))
        y += 1
        labels = {"service": service, "slo": slo.name}
        budget = 1.0 - slo.objective / 100.0
        burn = [f"{metric_selector(recorded(b.long), **labels)} / {budget:.6g}" for b in slo.burn_rates]
        panels.append(_timeseries("Burn rate (1 = spending the budget exactly over the window)", "short",
                                  "long window", burn[:1] + burn[1:], x=0, y=y))
        remaining = f"1 - ({metric_selector(recorded(slo.window), **labels)} / {budget:.6g})"
        panels.append(_stat(f"Error budget left over {duration(slo.window)}", remaining, x=12, y=y))
        ratio = metric_selector(recorded(min(b.short for b in slo.burn_rates)), **labels)
        panels.append(_stat("Error ratio (shortest window)", ratio, x=18, y=y))
        y += 8
    for i, p in enumerate(panels):
        p["id"] = i + 1
    return {
        "title": "vigil", "uid": "vigil-overview", "schemaVersion": 39, "version": 1, "editable": True,
        "time": {"from": "now-24h", "to": "now"}, "refresh": "1m", "tags": ["vigil", "slo"],
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
            {"name": "job", "type": "custom", "query": "vigil", "current": {"text": "vigil", "value": "vigil"},
             "label": "vigil's scrape job"}]},
        "panels": panels,
    }


def _row(title: str, y: int) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            "panels": []}


def _targets(exprs: list[str], legend: str) -> list[dict[str, Any]]:
    return [{"refId": chr(ord("A") + i), "expr": e, "legendFormat": legend, "datasource": DS}
            for i, e in enumerate(exprs)]


def _timeseries(title: str, unit: str, legend: str, exprs: list[str], x: int, y: int) -> dict[str, Any]:
    return {"type": "timeseries", "title": title, "datasource": DS, "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "targets": _targets(exprs, legend)}


def _stat(title: str, expr: str, x: int, y: int) -> dict[str, Any]:
    return {"type": "stat", "title": title, "datasource": DS, "gridPos": {"h": 8, "w": 6, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": "percentunit", "min": 0, "max": 1}, "overrides": []},
            "targets": _targets([expr], "")}


def render(config: Any) -> str:
    return orjson.dumps(dashboard(config), option=orjson.OPT_INDENT_2).decode()
