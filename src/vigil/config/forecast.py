"""Config schema of forecasting per service (`services[].forecast`): which series are forecast, how
often their models are retrained, and the limits that give capacity warnings. See docs/forecasting.md."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from vigil.config.rules import check_selector
from vigil.config.types import Duration, Strict


def check_forecaster(kind: str) -> str:
    from vigil.forecast import FORECASTERS

    if kind not in FORECASTERS:
        raise ValueError(f"unknown forecaster {kind!r}; known: {', '.join(FORECASTERS.kinds())}")
    return kind


class ForecastSeriesConfig(Strict):
    series: str = Field(description='series selector: name or name{label="value",...} (service implied)')
    limit: float | None = Field(None, description="a capacity limit: warn when the series is expected to cross it")
    warn_by: Literal["forecast", "trend"] = Field(
        "forecast", description="forecast: the forecast (or its interval) crosses the limit within the horizon; "
                                "trend: a linear trend reaches it within 30 days ('disk full in 3 days')")
    what: str | None = Field(None, description="what the warning calls the series (default: its metric name)")
    unit: str = Field("", description="unit shown after values in warnings, e.g. % or GB")

    @field_validator("series")
    @classmethod
    def _selector(cls, v: str) -> str:
        return check_selector(v)


class ForecastConfig(Strict):
    enabled: bool = True
    series: list[ForecastSeriesConfig] = Field(default_factory=list)
    forecaster: str = Field("profile", description="the first champion's kind")
    challengers: list[str] = Field(default_factory=list, description="kinds tried against the champion at "
                                                                     "each retrain")
    retrain_every: Duration = Field(6 * 3600.0, description="scheduled retrain period per series")
    check_every: Duration = Field(15 * 60.0, description="how often capacity limits are re-checked between "
                                                         "retrains, with the current champion")
    history: Duration = Field(14 * 86400.0, description="hourly history each retrain reads")
    horizon: Duration = Field(86400.0, description="how far ahead each forecast reaches")
    level: int = Field(80, gt=0, lt=100, description="interval level (percent) served and checked")

    @field_validator("forecaster")
    @classmethod
    def _forecaster(cls, v: str) -> str:
        return check_forecaster(v)

    @field_validator("challengers")
    @classmethod
    def _challengers(cls, v: list[str]) -> list[str]:
        return [check_forecaster(k) for k in v]

    @model_validator(mode="after")
    def _spans(self) -> "ForecastConfig":
        if self.horizon < 3600:
            raise ValueError("horizon must be at least 1h (forecasts are hourly)")
        if self.history < 3 * 86400:
            raise ValueError("history must be at least 3d (two days to fit, one to calibrate)")
        if self.retrain_every < 60:
            raise ValueError("retrain_every must be at least 1m")
        if self.check_every < 60:
            raise ValueError("check_every must be at least 1m (the stage looks at its schedule once a minute)")
        return self
