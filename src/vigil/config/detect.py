"""Config schema of anomaly detection per service (`services[].detect`)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from vigil.config.types import Duration, Regexes, Strict

# Chosen by leave-one-system-out on the RCA recordings (docs/detection.md, "Corroboration").
CORROBORATION_EVIDENCE = 5.5
CORROBORATION_WINDOW = 180.0

# Series that are not worth an anomaly detector by default: binary or bookkeeping series.
DEFAULT_EXCLUDE = [r"^up$", r"^scrape_.*", r"^probe_success$", r"^probe_status_code$", r"^probe_exit_code$",
                   r".*_created$", r"^probe_tls_days_left$"]


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
               "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "tib": 1024 ** 4}


def parse_size(value: Any) -> float:
    """'1MiB', '500kB', '2GB' or a plain number of bytes -> bytes (float)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str):
        m = _SIZE.fullmatch(value.strip())
        if m:
            return float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()]
    raise PydanticCustomError("size", "expected a size like 1MiB, 500kB or 2GB (or a number of bytes); "
                                      "found {found}", {"found": repr(value)})


ByteSize = Annotated[float, BeforeValidator(parse_size)]


class MinChange(Strict):
    """The floor of practical significance per unit: a change from the expected value smaller than this is
    not an anomaly, whatever the detector's score. The unit comes from the series name (docs/detection.md);
    0 turns a floor off."""

    seconds: Duration = Field(0.05, description="series in seconds, ms, us (`*_seconds`, `latency_ms`, "
                                                "`latency_s`): smallest change that counts (default 50ms)")
    bytes: ByteSize = Field(1024.0 ** 2, description="series in bytes (`*_bytes`, `*_mb`, `*_gb`, `*_bits`): "
                                                     "smallest change that counts (default 1MiB)")
    percent: float = Field(5.0, ge=0, le=100, description="series in percent (`*_percent`) and 0-1 ratios "
                                                          "(`*_ratio`, `*_utilization`, as percent / 100): "
                                                          "smallest change in percentage points (default 5)")


class Corroboration(Strict):
    """When an anomaly alert fires: its series' signal is held until related series agree (docs/detection.md,
    "Corroboration"). Probes, rules and SLOs are not held: only the anomaly detectors' alerts."""

    evidence: float = Field(CORROBORATION_EVIDENCE, ge=0, le=100,
                            description="the sum of detector scores (one per series, 0-1 each) that the "
                                        "service and its neighbours in depends_on must reach within the "
                                        "window; 0 fires every anomaly alert at once")
    window: Duration = Field(CORROBORATION_WINDOW, gt=0, le=3600,
                             description="how long a held anomaly waits for corroboration")


class DetectConfig(Strict):
    enabled: bool = True
    detector: str = Field("ensemble", description="a registered detector kind")
    include: Regexes = Field(default_factory=list, description="regexes of series names to watch (default all)")
    exclude: Regexes = Field(default_factory=lambda: list(DEFAULT_EXCLUDE),
                               description="regexes of series names not to watch")
    threshold: float | None = Field(None, gt=0, le=1,
                                    description="score at or above which a point is anomalous "
                                                "(default: the detector's shipped threshold)")
    consecutive: int = Field(1, ge=1, description="anomalous points in a row before a signal")
    cooldown: Duration = Field(300.0, description="no second signal for the same series within this time")
    resolve_after: Duration = Field(300.0, description="an anomaly alert resolves once its series has had no "
                                                       "anomalous point for this long")
    min_change: MinChange = Field(default_factory=MinChange,
                                  description="per unit, the smallest change from the expected value that is "
                                              "an anomaly (below it a high score is not a signal)")
    corroboration: Corroboration = Field(default_factory=Corroboration,
                                         description="an anomaly alert fires only when related series agree")

    @field_validator("detector")
    @classmethod
    def _known(cls, v: str) -> str:
        from vigil.detect import DETECTORS

        if v not in DETECTORS:
            raise ValueError(f"unknown detector; known: {', '.join(DETECTORS.kinds())}")
        return v

