"""Config schema of anomaly detection per service (`services[].detect`)."""

from __future__ import annotations

from pydantic import Field, field_validator

from vigil.config.types import Duration, Regexes, Strict

# Series that are not worth an anomaly detector by default: binary or bookkeeping series.
DEFAULT_EXCLUDE = [r"^up$", r"^scrape_.*", r"^probe_success$", r"^probe_status_code$", r"^probe_exit_code$",
                   r".*_created$", r"^probe_tls_days_left$"]


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

    @field_validator("detector")
    @classmethod
    def _known(cls, v: str) -> str:
        from vigil.detect import DETECTORS

        if v not in DETECTORS:
            raise ValueError(f"unknown detector; known: {', '.join(DETECTORS.kinds())}")
        return v

