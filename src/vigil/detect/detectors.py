"""vigil's statistical detectors: one kernel (see `kernel`), four ways of reading a series."""

from __future__ import annotations

from typing import ClassVar

from vigil.detect.base import KernelDetector


class SeasonalBaseline(KernelDetector):
    """Robust baseline: median/MAD of recent normal points, or of the same time of day on past days
    when the daily profile explains the series better."""

    KIND = "seasonal"
    PARAMS: ClassVar[dict[str, float]] = {"w_level": 1.0, "w_season": 1.0, "season_explain": 0.3,
                                          "season_cap": 5.0}


class ChangePoint(KernelDetector):
    """Two-sided CUSUM of robust deviations: level and variance shifts too small for a single point."""

    KIND = "changepoint"
    PARAMS: ClassVar[dict[str, float]] = {"w_cusum": 1.0}


class SpikeDip(KernelDetector):
    """Sudden steps: the jump from the previous value against the typical step size."""

    KIND = "spike"
    PARAMS: ClassVar[dict[str, float]] = {"w_spike": 1.0}


class Ensemble(KernelDetector):
    """vigil's default: the strongest of baseline, spike and change-point evidence, one alarm per
    event (a quiet period after an alarm unless the deviation doubles)."""

    KIND = "ensemble"
    # Weights chosen on NAB (docs/detection.md): season and CUSUM evidence cost more in false alarms
    # than they found, so they are measured but off here; recurring anomalies stop alarming.
    PARAMS: ClassVar[dict[str, float]] = {"w_level": 1.0, "w_spike": 0.5, "recall": 2.0, "quiet": 50}
    # Chosen with `vigil bench nab --optimize` on the NAB development part, then frozen.
    THRESHOLDS: ClassVar[dict[str, float]] = {"standard": 0.3056, "reward_low_FP": 0.3914,
                                              "reward_low_FN": 0.3056}
