"""Config schema of scheduled reports (`reports:`): which report, when, in which time zone, and the
receivers (of `alerting.receivers`) whose email integrations get it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from vigil.config.types import Strict

ReportKind = Literal["daily", "weekly", "executive"]
REPORT_KINDS: tuple[str, ...] = ("daily", "weekly", "executive")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class ReportScheduleConfig(Strict):
    kind: ReportKind = Field(
        description="daily (the last 24 hours), weekly (7 days) or executive (30 days, against the 30 before)"
    )
    at: str = Field(default="08:00", description="local time of day it is sent, HH:MM")
    time_zone: str = Field(default="UTC",
                           description="IANA time zone of `at` (Europe/Paris, America/New_York, ...)")
    weekday: Weekday = Field(default="monday", description="the day a weekly report is sent")
    day_of_month: int = Field(default=1, ge=1, le=28,
                              description="the day of the month an executive report is sent")
    receivers: list[str] = Field(
        min_length=1, description="names of alerting.receivers; their email integrations get the report"
    )

    @field_validator("at")
    @classmethod
    def _at(cls, v: str) -> str:
        try:
            datetime.strptime(v, "%H:%M")
        except ValueError:
            raise ValueError(f"at must be a time of day as HH:MM (e.g. 08:00); found {v!r}") from None
        return v

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r}; use an IANA name such as UTC or Europe/Paris"
            ) from None
        return v

    @model_validator(mode="after")
    def _day_fits_kind(self) -> ReportScheduleConfig:
        if "weekday" in self.model_fields_set and self.kind != "weekly":
            raise ValueError(f"weekday applies to weekly reports only; this one is {self.kind}")
        if "day_of_month" in self.model_fields_set and self.kind != "executive":
            raise ValueError(f"day_of_month applies to executive reports only; this one is {self.kind}")
        return self

    @property
    def hour_minute(self) -> tuple[int, int]:
        t = datetime.strptime(self.at, "%H:%M")
        return t.hour, t.minute
