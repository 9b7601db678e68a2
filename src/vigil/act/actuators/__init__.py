"""Actuators: the things vigil scales. An explicit registry, imported lazily (the kubernetes client is
only imported when a kubernetes actuator is built)."""

from __future__ import annotations

from typing import Any

from vigil.act.actuators.base import ActuationError, Actuator, ScaleOutcome, ScaleResult, execute_scale
from vigil.registry import Registry

ACTUATORS: Registry[Actuator] = Registry("actuator", {
    "process": "vigil.act.actuators.process:ProcessActuator",
    "kubernetes": "vigil.act.actuators.kubernetes:KubernetesActuator",
    "webhook": "vigil.act.actuators.webhook:WebhookActuator",
    "command": "vigil.act.actuators.command:CommandActuator",
    "memory": "vigil.act.actuators.memory:MemoryActuator",
})


def build_actuator(config: Any, service: str = "") -> Actuator:
    """From a service's `scaling.actuator` config (chosen by its `kind`)."""
    return ACTUATORS.create(config.kind, config, service)


__all__ = ["ACTUATORS", "ActuationError", "Actuator", "ScaleOutcome", "ScaleResult", "build_actuator",
           "execute_scale"]
