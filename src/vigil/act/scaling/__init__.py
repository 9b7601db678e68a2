"""Scaling: the exact HPA (hpa.py), the forecast floor (floor.py) and the policy with its modes."""

from vigil.act.scaling.hpa import HorizontalAutoscaler, replicas_for_metric
from vigil.act.scaling.policy import Observation, ScalePolicy

__all__ = ["HorizontalAutoscaler", "Observation", "ScalePolicy", "replicas_for_metric"]
