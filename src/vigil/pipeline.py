"""The unit of work that flows through the engine's stages, and the Stage protocol.

A Batch is everything that arrived since the last pass (samples, probe results) plus what the
stages add to it on the way (signals, decisions, events). Each stage reads what earlier stages
wrote and adds its own; the engine alone knows the order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from vigil.model import Decision, Event, ProbeResult, Sample, Signal


@dataclass
class Batch:
    now: float
    samples: list[Sample] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.samples or self.probes)


class Stage(Protocol):
    """One step of the loop: collect → persist → detect → decide → act/notify → record."""

    name: str

    async def run(self, batch: Batch) -> None: ...
