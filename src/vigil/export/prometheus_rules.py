"""`vigil export prometheus-rules`: a Prometheus rule file with, per SLO, recording rules of the error
ratio over every window, the multi-window multi-burn-rate alerts (the Google SRE workbook's method,
with the burn rates configured for the SLO), the configured threshold and absence rules, and alerts
on vigil itself. `promtool check rules` accepts it (the tests run it)."""

from __future__ import annotations

from typing import Any

import yaml

from vigil.export.promql import duration, error_ratio, metric_selector, recorded, selector, slos, windows

SELF_ALERTS: list[dict[str, Any]] = [
    {"alert": "VigilDown", "expr": 'up{job="%(job)s"} == 0', "for": "5m", "labels": {"severity": "critical"},
     "annotations": {"summary": "vigil is not answering Prometheus' scrapes"}},
    {"alert": "VigilEventLoopLag", "expr": 'max_over_time(vigil_event_loop_lag_seconds{job="%(job)s"}[5m]) > 1',
     "for": "10m", "labels": {"severity": "warning"},
     "annotations": {"summary": "vigil's event loop lags by more than 1 s: probes start late"}},
    {"alert": "VigilProbesLate", "expr": 'vigil_collect_start_lag_p99_seconds{job="%(job)s"} > 5', "for": "10m",
     "labels": {"severity": "warning"}, "annotations": {"summary": "probes and scrapes start over 5 s late (p99)"}},
    {"alert": "VigilStageErrors", "expr": 'sum by (stage) (rate(vigil_stage_errors_total{job="%(job)s"}[15m])) > 0',
     "for": "15m", "labels": {"severity": "warning"},
     "annotations": {"summary": "vigil's {{ $labels.stage }} stage keeps failing"}},
]


def rule_groups(config: Any, job: str = "vigil") -> dict[str, Any]:
    groups = [_slo_group(service, slo) for service, slo in slos(config)]
    thresholds = [rule for svc in config.services for r in svc.rules if (rule := _rule_alert(svc.name, r))]
    if thresholds:
        groups.append({"name": "vigil-rules", "rules": thresholds})
    groups.append({"name": "vigil-self", "rules": [
        {**a, "expr": a["expr"] % {"job": job}} for a in SELF_ALERTS]})
    return {"groups": groups}


def _slo_group(service: str, slo: Any) -> dict[str, Any]:
    labels = {"service": service, "slo": slo.name}
    rules: list[dict[str, Any]] = [
        {"record": recorded(w), "expr": error_ratio(slo, service, duration(w)), "labels": labels}
        for w in windows(slo)]
    budget = 1.0 - slo.objective / 100.0
    for b in slo.burn_rates:
        threshold = f"{b.factor * budget:.6g}"
        long_sel = metric_selector(recorded(b.long), **labels)
        short_sel = metric_selector(recorded(b.short), **labels)
        rules.append({
            "alert": f"SLOBurnRate{_camel(slo.name)}",
            "expr": f"{long_sel} > {threshold} and {short_sel} > {threshold}",
            "labels": {**labels, "severity": b.severity, "long_window": duration(b.long),
                       "short_window": duration(b.short)},
            "annotations": {
                "summary": f"{service}: SLO {slo.name} ({slo.objective:g} % over {duration(slo.window)}) burns its "
                           f"error budget {b.factor:g}x too fast over {duration(b.long)} and {duration(b.short)}",
                "description": "error ratio {{ $value | humanizePercentage }} over " + duration(b.long)}})
    return {"name": f"slo-{service}-{slo.name}", "rules": rules}


def _rule_alert(service: str, rule: Any) -> dict[str, Any] | None:
    kind = getattr(rule, "kind", None)
    if kind == "threshold":
        value = selector(rule.series, service)
        if rule.per is not None:
            value = f"sum({value}) / sum({selector(rule.per, service)})"
        op, limit = (">", rule.above) if rule.above is not None else ("<", rule.below)
        expr = f"{value} {op} {limit:g}"
    elif kind == "absence":
        expr = f"absent_over_time({selector(rule.series, service)}[{duration(rule.for_)}])"
    else:
        return None  # forecasts, leaks and drift are vigil's own models: they have no PromQL equivalent
    alert: dict[str, Any] = {"alert": _camel(rule.title()), "expr": expr,
                             "labels": {"service": service, "severity": rule.severity, "source": "vigil"},
                             "annotations": {"summary": f"{service}: {rule.title()} (from vigil's config)"}}
    hold = getattr(rule, "for_", 0.0)
    if kind == "threshold" and hold:
        alert["for"] = duration(hold)
    return alert


def _camel(text: str) -> str:
    out = "".join(part[:1].upper() + part[1:] for part in "".join(c if c.isalnum() else " " for c in text).split())
    return out if out[:1].isalpha() else f"Rule{out}"


class _Plain(yaml.SafeDumper):
    """No &anchors and *aliases for labels shared by rules: people read and edit this file."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(config: Any, job: str = "vigil") -> str:
    return yaml.dump(rule_groups(config, job), Dumper=_Plain, sort_keys=False, width=200)
