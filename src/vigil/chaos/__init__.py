"""Resilience experiments in Chaos Toolkit's vocabulary: `vigil chaos run EXPERIMENT.yaml` (docs/chaos.md)."""
