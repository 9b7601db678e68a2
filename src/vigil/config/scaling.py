"""Config schema of a service's scaling policy, in the Kubernetes HPA (autoscaling/v2) vocabulary so
settings map one to one:

    minReplicas / maxReplicas                  -> min_replicas / max_replicas
    metrics[].target.averageUtilization/Value  -> metric.target
    --horizontal-pod-autoscaler-tolerance      -> tolerance
    --horizontal-pod-autoscaler-sync-period    -> sync_period
    behavior.scaleUp / behavior.scaleDown      -> scale_up / scale_down
      .stabilizationWindowSeconds              ->   .stabilization_window
      .selectPolicy                            ->   .select_policy
      .policies[] {type, value, periodSeconds} ->   .policies[] {type, value, period}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from vigil.config.types import Duration, Secret, Strict


class ScalingRate(Strict):
    """HPAScalingPolicy: change by at most `value` pods (or percent) per `period`."""

    type: Literal["Pods", "Percent"]
    value: int = Field(gt=0)
    period: Duration = Field(15.0, description="periodSeconds (1s .. 30m upstream)")

    @model_validator(mode="after")
    def _period(self) -> "ScalingRate":
        if not 0 < self.period <= 1800:
            raise ValueError("period must be between 1s and 30m (as periodSeconds upstream)")
        return self


MAX_STABILIZATION_WINDOW = 3600.0  # upstream's limit on stabilizationWindowSeconds


def _check_window(name: str, seconds: float) -> None:
    if seconds > MAX_STABILIZATION_WINDOW:
        raise ValueError(f"{name} must be at most 1h (as a stabilization window upstream)")


class ScalingRules(Strict):
    """HPAScalingRules for one direction."""

    stabilization_window: Duration = Field(0.0, description="stabilizationWindowSeconds (<= 1h)")
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"
    policies: list[ScalingRate] = Field(min_length=1)
    tolerance: float | None = Field(None, ge=0, lt=1, description="per-direction tolerance (Kubernetes "
                                    "1.33 behavior.*.tolerance); default: the policy's tolerance")

    @model_validator(mode="after")
    def _window(self) -> "ScalingRules":
        _check_window("stabilization_window", self.stabilization_window)
        return self


def _default_up() -> ScalingRules:
    return ScalingRules(stabilization_window=0.0, select_policy="Max", policies=[
        ScalingRate(type="Percent", value=100, period=15.0), ScalingRate(type="Pods", value=4, period=15.0)])


def _default_down() -> ScalingRules:
    return ScalingRules(stabilization_window=300.0, select_policy="Max",
                        policies=[ScalingRate(type="Percent", value=100, period=15.0)])


class ScalingMetric(Strict):
    """What one replica is asked to carry. `utilization` is a fraction (0.7 = 70%, as
    averageUtilization: 70); `requests_per_replica` and `queue_length` are per-replica values
    (averageValue)."""

    kind: Literal["utilization", "requests_per_replica", "queue_length"] = "utilization"
    series: str = Field("", description="the series to read, e.g. cpu_utilization{service=\"api\"}")
    target: float = Field(0.7, gt=0)
    capacity: float | None = Field(None, gt=0, description="the per-replica value at which a replica is "
                                   "saturated, in the metric's units; default 1.0 for utilization, unknown "
                                   "otherwise (self-calibrated headroom needs it)")

    @property
    def saturation(self) -> float | None:
        return self.capacity if self.capacity is not None else (1.0 if self.kind == "utilization" else None)


class PredictiveSettings(Strict):
    """The forecast floor of `predictive` mode."""

    forecaster: str = Field("seasonal_profile", description="a kind in the forecaster registry")
    level: int = Field(95, ge=50, le=99, description="interval level whose upper bound is the floor")
    headroom: Literal["auto", "calibrated", "fixed"] = Field(
        "auto", description="calibrated: the trusted and floor targets follow the width of the service's own "
        "forecast bound over the start-up delay; fixed: `target` and `floor_target`; auto: calibrated when the "
        "metric's saturation is known (utilization, or metric.capacity) and `target` is not set")
    target: float | None = Field(None, gt=0, description="per-replica target while the forecast is "
                                 "trusted (the floor carries the headroom); default: the metric target")
    floor_target: float | None = Field(None, gt=0, description="per-replica load the forecast's upper "
                                       "bound may reach before scaling up; default: target x (1 + tolerance)")
    startup_delay: Duration = Field(60.0, description="time from scale request to a ready replica")
    metric_lag: Duration = Field(15.0, description="age of the metric when it is read")
    step: Duration = Field(300.0, description="sampling step the forecaster is fitted on")
    season: Duration = Field(86400.0, description="season of the demand (a day)")
    history: Duration = Field(14 * 86400.0, description="demand history a fit looks at")
    refit_every: Duration = Field(3600.0, description="how often the forecaster is refit")
    backtest_window: Duration = Field(86400.0, description="rolling backtest that gates acting")
    interval_window: Duration = Field(86400.0, description="recent errors the upper bound is calibrated on")
    min_backtest: Duration = Field(3600.0, description="backtest length needed before the floor may act")
    relative_errors: bool = Field(False, description="interval from errors relative to the level")
    max_mase: float = Field(1.0, gt=0, description="act only while backtest MASE is below this")
    rough_above: float = Field(0.125, ge=0, description="roughness (0 drift .. 0.5 random walk .. 1 noise) "
                               "from which demand counts as rough: bursts held, longer scale-down window")
    noisy_above: float = Field(0.4, ge=0, description="roughness from which only sustained surprises "
                               "count as bursts")
    burst_hold: Duration = Field(3600.0, description="on rough demand, how long headroom for the largest "
                                 "recent surprise is kept; 0 turns it off")
    burst_periods: int = Field(3, ge=1, le=40, description="periods a surprise must last on noisy demand")
    rough_down_window: Duration = Field(900.0, description="scale-down stabilization window on rough "
                                        "demand (never shorter than scale_down's own)")

    @model_validator(mode="after")
    def _rough(self) -> "PredictiveSettings":
        _check_window("rough_down_window", self.rough_down_window)
        return self


class ProcessActuatorConfig(Strict):
    kind: Literal["process"]
    command: list[str] = Field(min_length=1, description="argv of one replica; not run through a shell")
    port: int | None = Field(None, ge=1, le=65535, description="shared port, passed as $PORT")
    ready_line: str | None = Field(None, description="a replica is ready once it prints this line")
    env: dict[str, str] = Field(default_factory=dict)
    ready_timeout: Duration = 10.0
    stop_timeout: Duration = 10.0


class KubernetesActuatorConfig(Strict):
    kind: Literal["kubernetes"]
    target: Literal["Deployment", "StatefulSet"] = "Deployment"
    name: str
    namespace: str = "default"
    kubeconfig: str | None = Field(None, description="path; default: in-cluster, then ~/.kube/config")
    context: str | None = None
    ready_timeout: Duration = 300.0


class WebhookActuatorConfig(Strict):
    kind: Literal["webhook"]
    url: str = Field(description="may hold {replicas} and {service}")
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, Secret] = Field(default_factory=dict)
    body: str = Field('{"replicas": {replicas}}', description="template; {replicas} and {service}")
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])
    status_url: str | None = Field(None, description="GET returning JSON with the ready count")
    ready_field: str = Field("ready_replicas", description="dotted path of the ready count in it")
    timeout: Duration = 10.0


class CommandActuatorConfig(Strict):
    kind: Literal["command"]
    command: list[str] = Field(min_length=1, description="argv; {replicas} and {service} are filled in")
    status_command: list[str] | None = Field(None, description="prints the ready replica count")
    timeout: Duration = 60.0


ActuatorConfig = Annotated[
    ProcessActuatorConfig | KubernetesActuatorConfig | WebhookActuatorConfig | CommandActuatorConfig,
    Field(discriminator="kind")]


class ScalingPolicyConfig(Strict):
    mode: Literal["reactive", "predictive", "shadow"] = "reactive"
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(ge=1)
    metric: ScalingMetric = ScalingMetric()
    tolerance: float = Field(0.1, ge=0, lt=1)
    sync_period: Duration = Field(15.0, description="the control period")
    scale_up: ScalingRules = Field(default_factory=_default_up)
    scale_down: ScalingRules = Field(default_factory=_default_down)
    predictive: PredictiveSettings = PredictiveSettings()
    shadow_of: Literal["reactive", "predictive"] = Field(
        "predictive", description="in shadow mode: which mode's decision is recorded")
    cost_per_replica_hour: float = Field(0.0, ge=0)
    budget_per_hour: float | None = Field(None, gt=0, description="cap on cost per hour of this service")
    actuator: ActuatorConfig | None = None
    dry_run: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> "ScalingPolicyConfig":
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) exceeds max_replicas ({self.max_replicas})")
        if self.sync_period <= 0:
            raise ValueError("sync_period must be more than 0s")
        if self.budget_per_hour is not None and self.cost_per_replica_hour <= 0:
            raise ValueError("budget_per_hour needs cost_per_replica_hour")
        floor_cost = self.min_replicas * self.cost_per_replica_hour
        if self.budget_per_hour is not None and self.budget_per_hour < floor_cost:
            raise ValueError("budget_per_hour does not pay for min_replicas")
        if self.predictive.headroom == "calibrated" and self.metric.saturation is None:
            raise ValueError(f"predictive.headroom calibrated needs the metric's saturation: set metric.capacity "
                             f"(the {self.metric.kind} value at which one replica is saturated)")
        return self

    @property
    def calibrated_headroom(self) -> bool:
        """Whether the trusted and floor targets follow the service's own forecast bound."""
        mode = self.predictive.headroom
        if mode == "auto":
            return self.metric.saturation is not None and self.predictive.target is None \
                and self.predictive.floor_target is None
        return mode == "calibrated"
