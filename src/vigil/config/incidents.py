"""Config schema of incidents (`incidents:`): how alerts are gathered into incidents, and how an
incident nobody acknowledges is escalated."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from vigil.config.types import Duration, Strict


class EscalationLevel(Strict):
    after: Duration = Field(description="time after the incident opened, unacknowledged, when this level is told")
    notify: list[str] = Field(min_length=1, description="receivers (by name) or on-call schedules "
                                                        "(`oncall:<schedule>`) told at this level")


class EscalationPolicy(Strict):
    name: str
    levels: list[EscalationLevel] = Field(min_length=1, description="in order of `after`")
    repeat_every: Duration | None = Field(None, description="after the last level, tell it again this often "
                                                            "while nobody acknowledges (default: once)")

    @model_validator(mode="after")
    def _ordered(self) -> EscalationPolicy:
        afters = [lv.after for lv in self.levels]
        if afters != sorted(afters):
            raise ValueError(f"escalation policy {self.name!r}: levels must be in order of `after`")
        if self.repeat_every is not None and self.repeat_every <= 0:
            raise ValueError("repeat_every must be more than 0s")
        return self


class IncidentsConfig(Strict):
    enabled: bool = True
    correlation_window: Duration = Field(600.0, description="an alert joins an incident that had an alert join "
                                                            "or change within this time")
    reopen_window: Duration = Field(1800.0, description="an alert that fires again within this time after its "
                                                        "incident resolved reopens it")
    max_hops: int = Field(2, ge=0, le=10, description="services this close in the dependency graph share an "
                                                      "incident")
    escalation_policies: list[EscalationPolicy] = Field(default_factory=list)
    escalation: str | None = Field(None, description="the escalation policy of every service that names none")

    @field_validator("escalation_policies")
    @classmethod
    def _unique(cls, v: list[EscalationPolicy]) -> list[EscalationPolicy]:
        names = [p.name for p in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate escalation policy name(s): {', '.join(dup)}")
        return v

    @model_validator(mode="after")
    def _known(self) -> IncidentsConfig:
        if self.escalation is not None and self.escalation not in {p.name for p in self.escalation_policies}:
            raise ValueError(f"escalation {self.escalation!r} is not one of escalation_policies")
        return self

    def policy(self, name: str | None) -> EscalationPolicy | None:
        return next((p for p in self.escalation_policies if p.name == (name or self.escalation)), None)
