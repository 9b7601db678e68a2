"""Config schema of declared rules per service (`services[].rules`): threshold, absence, rate_of_change,
will_cross, slo, leak, drift. Each is chosen by its `kind`; see docs/rules.md."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from vigil.config.types import Duration, Strict
from vigil.model import SeriesKey

SeverityName = Literal["info", "warning", "high", "critical"]


def check_selector(text: str) -> str:
    """A series selector: `name` or `name{label="value",...}`; the service label is implied."""
    try:
        key = SeriesKey.parse(text)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    if "service" in key.label_map:
        raise ValueError("leave out the service label; the rule's service is implied")
    return text


class RuleBase(Strict):
    name: str | None = Field(None, description="shown in signals; defaults to the kind and series")

    def title(self) -> str:
        return self.name or f"{getattr(self, 'kind', 'rule')}:{getattr(self, 'series', '')}"


class SeriesRule(RuleBase):
    series: str = Field(description='series selector: name or name{label="value",...}')

    @field_validator("series")
    @classmethod
    def _selector(cls, v: str) -> str:
        return check_selector(v)


def _positive(value: float, key: str) -> None:
    if not value > 0:
        raise ValueError(f"{key} must be more than 0s")


class Windowed(Strict):
    """Rules judged over a window of history, on a cadence rather than on every sample."""

    evaluate_every: Duration = Field(30.0, description="how often the rule is judged (engine time)")

    @field_validator("evaluate_every")
    @classmethod
    def _cadence(cls, v: float) -> float:
        _positive(v, "evaluate_every")
        return v


class ThresholdRuleConfig(SeriesRule):
    kind: Literal["threshold"]
    per: str | None = Field(None, description="denominator selector: the value is then sum(series) / sum(per)")
    above: float | None = None
    below: float | None = None
    for_: Duration = Field(0.0, alias="for", description="how long the value must stay beyond the limit")
    clear: float | None = Field(None, description="hysteresis: the value that ends the episode")
    severity: SeverityName = "warning"

    @field_validator("per")
    @classmethod
    def _per(cls, v: str | None) -> str | None:
        return None if v is None else check_selector(v)

    @model_validator(mode="after")
    def _one_side(self) -> ThresholdRuleConfig:
        if (self.above is None) == (self.below is None):
            raise ValueError("a threshold rule needs exactly one of above: or below:")
        if self.clear is not None:
            if self.above is not None and self.clear > self.above:
                raise ValueError(f"clear ({self.clear:g}) must be at or below above ({self.above:g}), "
                                 "or the rule could never clear")
            if self.below is not None and self.clear < self.below:
                raise ValueError(f"clear ({self.clear:g}) must be at or above below ({self.below:g}), "
                                 "or the rule could never clear")
        return self

    @property
    def limit(self) -> float:
        return self.above if self.above is not None else float(self.below)  # type: ignore[arg-type]


class AbsenceRuleConfig(SeriesRule, Windowed):
    kind: Literal["absence"]
    for_: Duration = Field(300.0, alias="for", description="silence that counts as absent")
    severity: SeverityName = "warning"

    @model_validator(mode="after")
    def _check(self) -> AbsenceRuleConfig:
        _positive(self.for_, "for")
        return self


class RateOfChangeRuleConfig(SeriesRule, Windowed):
    kind: Literal["rate_of_change"]
    max_per_second: float | None = Field(None, gt=0)
    max_per_minute: float | None = Field(None, gt=0)
    window: Duration = 300.0
    severity: SeverityName = "warning"

    @model_validator(mode="after")
    def _check(self) -> RateOfChangeRuleConfig:
        if (self.max_per_second is None) == (self.max_per_minute is None):
            raise ValueError("a rate_of_change rule needs exactly one of max_per_second: or max_per_minute:")
        _positive(self.window, "window")
        return self

    @property
    def max_per_s(self) -> float:
        return self.max_per_second if self.max_per_second is not None else float(self.max_per_minute) / 60.0  # type: ignore[arg-type]


class WillCrossRuleConfig(SeriesRule, Windowed):
    kind: Literal["will_cross"]
    limit: float
    within: Duration = Field(description="alert when the trend crosses the limit sooner than this")
    window: Duration = Field(3600.0, description="history the linear trend is fitted on")
    min_r2: float = Field(0.5, ge=0, le=1, description="fit quality below which the trend is not trusted")
    severity: SeverityName = "warning"

    @model_validator(mode="after")
    def _check(self) -> WillCrossRuleConfig:
        _positive(self.within, "within")
        _positive(self.window, "window")
        return self


class BurnRate(Strict):
    """One multi-window alert: both windows must burn the budget faster than `factor`."""

    long: Duration
    short: Duration
    factor: float = Field(gt=0)
    severity: SeverityName = "critical"

    @model_validator(mode="after")
    def _check(self) -> BurnRate:
        _positive(self.short, "short")
        if self.short >= self.long:
            raise ValueError(f"short window ({self.short:g}s) must be shorter than long ({self.long:g}s)")
        return self


# The Google SRE workbook's defaults for a 30-day window: 2 % of the budget in 1 h, 5 % in 6 h (page),
# 10 % in 3 days (ticket).
DEFAULT_BURN_RATES = (
    BurnRate(long=3600.0, short=300.0, factor=14.4, severity="critical"),
    BurnRate(long=6 * 3600.0, short=1800.0, factor=6.0, severity="critical"),
    BurnRate(long=3 * 86400.0, short=6 * 3600.0, factor=1.0, severity="warning"),
)


class LatencySli(Strict):
    """Good = requests under `under`, estimated from the histogram's quantile series."""

    series: str = Field(description='histogram name whose quantile series are stored, e.g. latency_ms')
    under: float = Field(gt=0, description="latency objective in the series' unit (300 for ms, 0.3 for s)")
    requests: str | None = Field(None, description="request-rate series weighting each interval "
                                                   "(default <name>_count:rate when stored)")

    @field_validator("series", "requests")
    @classmethod
    def _selector(cls, v: str | None) -> str | None:
        return None if v is None else check_selector(v)


class SloRuleConfig(RuleBase, Windowed):
    kind: Literal["slo"]
    name: str = Field(description="the SLO's name, e.g. availability")  # type: ignore[assignment]
    objective: float = Field(gt=0, lt=100, description="target percentage of good events, e.g. 99.9")
    window: Duration = Field(30 * 86400.0, description="the SLO period the error budget is spread over")
    good: str | None = Field(None, description="series of good events (summed over matching series)")
    total: str | None = Field(None, description="series of all events (summed over matching series)")
    probe: str | None = Field(None, description="availability from probe_success of this probe")
    latency: LatencySli | None = None
    burn_rates: list[BurnRate] = Field(default_factory=lambda: list(DEFAULT_BURN_RATES), min_length=1)

    @field_validator("good", "total")
    @classmethod
    def _selector(cls, v: str | None) -> str | None:
        return None if v is None else check_selector(v)

    @model_validator(mode="after")
    def _check(self) -> SloRuleConfig:
        ratio = self.good is not None or self.total is not None
        chosen = sum([ratio, self.probe is not None, self.latency is not None])
        if chosen != 1:
            raise ValueError("an slo needs exactly one source of good events: good: with total:, probe:, "
                             "or latency:")
        if ratio and (self.good is None or self.total is None):
            raise ValueError("good: and total: go together")
        budget = 1.0 - self.objective / 100.0
        for i, b in enumerate(self.burn_rates):
            if b.long > self.window:
                raise ValueError(f"burn_rates[{i}]: long window ({b.long:g}s) is longer than the SLO "
                                 f"window ({self.window:g}s)")
            if b.factor * budget > 1.0:
                raise ValueError(f"burn_rates[{i}]: {b.factor:g}x at objective {self.objective:g} % needs an "
                                 f"error ratio of {b.factor * budget:.0%}; it can never fire")
        return self

    def title(self) -> str:
        return f"slo:{self.name}"


class LeakRuleConfig(SeriesRule, Windowed):
    kind: Literal["leak"]
    min_growth_pct_per_hour: float = Field(2.0, gt=0)
    window: Duration = Field(7200.0, description="history the growth is fitted on")
    min_r2: float = Field(0.8, ge=0, le=1, description="how steady the growth must be (fit quality)")
    limit: float | None = Field(None, gt=0, description="memory limit, to project the time to reach it")

    @model_validator(mode="after")
    def _check(self) -> LeakRuleConfig:
        _positive(self.window, "window")
        return self


class DriftRuleConfig(SeriesRule, Windowed):
    kind: Literal["drift"]
    reference: Duration = Field(86400.0, description="length of the reference window, just before current")
    current: Duration = Field(3600.0, description="length of the current window, ending now")
    ks_p_value: float = Field(0.01, gt=0, lt=1, description="KS test p-value below which it drifted")
    psi: float = Field(0.2, gt=0, description="population stability index above which it drifted")
    min_points: int = Field(30, ge=5, description="fewer points in either window: no verdict")

    @model_validator(mode="after")
    def _check(self) -> DriftRuleConfig:
        _positive(self.reference, "reference")
        _positive(self.current, "current")
        return self


Rule = Annotated[
    ThresholdRuleConfig | AbsenceRuleConfig | RateOfChangeRuleConfig | WillCrossRuleConfig | SloRuleConfig
    | LeakRuleConfig | DriftRuleConfig,
    Field(discriminator="kind"),
]
