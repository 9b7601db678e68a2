"""PromQL text for vigil's SLOs and rules: the SLI error ratio over a window, durations as Prometheus
writes them, selectors with the service label. Shared by the rules and the dashboard."""

from __future__ import annotations

from typing import Any

from vigil.model import SeriesKey

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration(seconds: float) -> str:
    """300 -> 5m, 21600 -> 6h, 259200 -> 3d (the largest unit that divides it)."""
    s = int(round(seconds))
    for unit, size in _UNITS:
        if s % size == 0 and s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(series: str, service: str, **extra: str) -> str:
    """`name{labels..., service="svc"}` from a rule's series (which leaves the service out)."""
    key = SeriesKey.parse(series)
    labels = {**key.label_map, "service": service, **extra}
    return key.name + "{" + ",".join(f"{k}={_quote(v)}" for k, v in labels.items()) + "}"


def metric_selector(name: str, **labels: str) -> str:
    return name + "{" + ",".join(f"{k}={_quote(v)}" for k, v in labels.items()) + "}"


def error_ratio(slo: Any, service: str, window: str) -> str:
    """The SLI's bad fraction over `window`: good/total counters, vigil's own probe counter, or a
    histogram's bucket at the latency objective."""
    if slo.good is not None:
        good, total = _per_second(slo.good, service, window), _per_second(slo.total, service, window)
        return f"1 - (sum({good}) / sum({total}))"
    if slo.probe is not None:
        failed = metric_selector("vigil_probes_total", service=service, probe=slo.probe, outcome="fail")
        every = metric_selector("vigil_probes_total", service=service, probe=slo.probe)
        return f"sum(rate({failed}[{window}])) / sum(rate({every}[{window}]))"
    lat = slo.latency
    name = SeriesKey.parse(lat.series).name
    fast = metric_selector(f"{name}_bucket", service=service, le=f"{lat.under:g}")
    every = metric_selector(f"{name}_count", service=service)
    return f"1 - (sum(rate({fast}[{window}])) / sum(rate({every}[{window}])))"


def _per_second(series: str, service: str, window: str) -> str:
    """A counter's rate over the window; a series vigil names `...:rate` is a rate already (averaged)."""
    sel = selector(series, service)
    fn = "avg_over_time" if SeriesKey.parse(series).name.endswith(":rate") else "rate"
    return f"{fn}({sel}[{window}])"


def slos(config: Any) -> list[tuple[str, Any]]:
    """(service, slo rule) for every SLO in the config."""
    return [(svc.name, r) for svc in config.services for r in svc.rules if getattr(r, "kind", None) == "slo"]


def windows(slo: Any) -> list[float]:
    """Every window the SLO's alerts and its budget need, shortest first."""
    return sorted({w for b in slo.burn_rates for w in (b.long, b.short)} | {slo.window})


def recorded(window: float) -> str:
    """The recording rule holding an SLO's error ratio over this window."""
    return f"slo:sli_error:ratio_rate{duration(window)}"
