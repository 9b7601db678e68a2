"""Self-calibrated headroom: the trusted target follows the width of the service's own forecast bound."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.act.scaling import Observation, ScalePolicy
from vigil.act.scaling.policy import calibrated_targets
from vigil.config.scaling import PredictiveSettings, ScalingMetric, ScalingPolicyConfig
from vigil.testing import FakeClock

SEASON = 3600.0


def test_targets_from_the_bound_width() -> None:
    assert calibrated_targets(100, 100, 0.1, 0.7) == (pytest.approx(1 / 1.1), 1.0)  # exact forecast
    t, f = calibrated_targets(100, 110, 0.1, 0.7)
    assert t == pytest.approx(1 / (1.1 * 1.1)) and f == 1.0
    assert calibrated_targets(100, 300, 0.1, 0.7)[0] == 0.7  # a wide bound: never below the plain HPA


def _cfg() -> ScalingPolicyConfig:
    return ScalingPolicyConfig(mode="predictive", min_replicas=1, max_replicas=200,
                               metric=ScalingMetric(kind="requests_per_replica", target=0.7),
                               predictive=PredictiveSettings(forecaster="none", season=SEASON,
                                                             history=2 * SEASON, backtest_window=SEASON,
                                                             min_backtest=600, target=0.85, level=95))


def _replay(demand: np.ndarray, calibrate: bool) -> list[float]:
    clock = FakeClock()
    p = ScalePolicy("api", _cfg(), clock, calibrate_target=calibrate)
    current, targets = 10, []
    for d in demand:
        dec = p.decide(Observation(current, current, float(d) / current))
        if dec.result["act"]:
            p.scaled(current, dec.result["replicas"])
            current = dec.result["replicas"]
        targets.append(dec.inputs["target"])
        clock.set(clock.now() + 15)
    return targets


def test_smooth_demand_runs_hotter_than_noisy_demand() -> None:
    n = int(1.5 * SEASON / 15)
    rng = np.random.default_rng(4)
    smooth = 7.0 + 0.5 * np.sin(np.arange(n) / 200)
    noisy = 7.0 + rng.normal(0, 1.5, n)
    t_smooth, t_noisy = _replay(smooth, True)[-50:], _replay(noisy, True)[-50:]
    assert min(t_smooth) > 0.88  # a tight bound: close to 1 / (1 + tolerance)
    assert max(t_noisy) < min(t_smooth) and min(t_noisy) >= 0.7
    assert set(_replay(smooth, False)[-50:]) == {0.85}  # off: the configured trusted target


def _policy_config(**metric: object) -> object:
    from vigil.config.scaling import ScalingPolicyConfig

    return ScalingPolicyConfig.model_validate({"mode": "predictive", "min_replicas": 1, "max_replicas": 10,
                                              "metric": metric, "predictive": {}})


def test_headroom_auto_is_calibrated_where_saturation_is_known() -> None:
    from vigil.config.scaling import ScalingPolicyConfig

    assert _policy_config(kind="utilization", target=0.7).calibrated_headroom  # type: ignore[attr-defined]
    assert not _policy_config(kind="requests_per_replica", target=50).calibrated_headroom  # type: ignore[attr-defined]
    with_capacity = _policy_config(kind="requests_per_replica", target=50, capacity=80)
    assert with_capacity.calibrated_headroom and with_capacity.metric.saturation == 80  # type: ignore[attr-defined]
    fixed = ScalingPolicyConfig.model_validate({"mode": "predictive", "max_replicas": 10,
                                                "metric": {"kind": "utilization"}, "predictive": {"target": 0.85}})
    assert not fixed.calibrated_headroom  # an explicit target is the user's headroom


def test_calibrated_headroom_without_saturation_is_refused_naming_capacity() -> None:
    from pydantic import ValidationError

    from vigil.config.scaling import ScalingPolicyConfig

    with pytest.raises(ValidationError, match="set metric.capacity"):
        ScalingPolicyConfig.model_validate({"mode": "predictive", "max_replicas": 10,
                                            "metric": {"kind": "queue_length", "target": 5},
                                            "predictive": {"headroom": "calibrated"}})


def test_calibrated_targets_scale_with_the_saturation() -> None:
    t1, f1 = calibrated_targets(100, 120, 0.1, 0.7)
    t80, f80 = calibrated_targets(100, 120, 0.1, 0.7 * 80, saturation=80)
    assert t80 == pytest.approx(80 * t1) and f80 == 80 and f1 == 1.0
