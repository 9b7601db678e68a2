"""Config schema of incidents (`incidents:`): how alerts are gathered into incidents."""

from __future__ import annotations

from pydantic import Field

from vigil.config.types import Duration, Strict


class IncidentsConfig(Strict):
    enabled: bool = True
    correlation_window: Duration = Field(600.0, description="an alert joins an incident that had an alert join "
                                                            "or change within this time")
    reopen_window: Duration = Field(1800.0, description="an alert that fires again within this time after its "
                                                        "incident resolved reopens it")
    max_hops: int = Field(2, ge=0, le=10, description="services this close in the dependency graph share an "
                                                      "incident")
