"""A recording replayed through vigil's own engine on simulated time, ranked where incidents start.

Each time step of metrics.csv is pushed through `Engine.push()` into a real SQLite store (persist,
detection and the alert stream run as they would live) while a `FakeClock` moves to the sample's time.
Ranking runs once the clock has passed the start by `RANK_DELAY_S`, reading the store through the
`SeriesReader` face (incidents/evidence.py bounds what it reads: at most 10 minutes after the start).

Where an incident starts: with `given_starts` at each labelled fault start (the RCAEval protocol);
otherwise where vigil itself opens one: the engine's own incident stage (stages/incidents.py, the
correlation of incidents/correlate.py over the replay's `depends_on`) places every alert of its
detectors, and each incident it opens is ranked at its opening."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from vigil.bench.rca_data import Recording, acyclic, config_text, metric_name, service_names
from vigil.incidents.evidence import Evidence, read_evidence, scope
from vigil.incidents.rootcause import IncidentView, RankSettings, ShiftRanker, Suspect
from vigil.model import AlertStatus, SeriesKey
from vigil.pipeline import Batch

RANK_DELAY_S = 600.0  # rank this long after a start: every series' after window (<= 10 min) has arrived


@dataclass
class Ranked:
    start: float
    services: tuple[str, ...]
    evidence: Evidence
    suspects: list[Suspect]


@dataclass
class Opened:
    """An incident the engine's incident stage opened: when, and the services in it (as it grows)."""

    start: float
    services: set[str] = field(default_factory=set)
    incident: int = 0


@dataclass
class Replay:
    recording: Recording
    names: dict[str, str]  # original service name -> vigil service name
    ranked: dict[float, Ranked]
    opened: list[Opened]
    samples: int
    first_ts: float
    last_ts: float
    edges_dropped: int
    seconds: float
    series: int = 0
    alert_starts: list[float] = field(default_factory=list)

    @cached_property
    def _originals(self) -> dict[str, str]:
        return {v: k for k, v in self.names.items()}

    def original(self, vigil_name: str) -> str:
        return self._originals.get(vigil_name, vigil_name)


class AlertTap:
    """A stage after the incident stage: keeps every firing alert's start and each incident the stage
    opened (with the services it holds as it grows)."""

    name = "rca-alert-tap"

    def __init__(self) -> None:
        self.starts: list[float] = []  # every firing alert's start, in arrival order
        self.opened: dict[int, Opened] = {}
        self.new: list[Opened] = []

    async def start(self) -> None:
        return None

    async def run(self, batch: Batch) -> None:
        self.starts += [a.starts_at for a in batch.alerts if a.status == AlertStatus.FIRING]
        for inc in batch.incidents:
            seen = self.opened.get(inc.id)
            if seen is None:
                seen = self.opened[inc.id] = Opened(inc.opened_at, incident=inc.id)
                self.new.append(seen)
            seen.services |= set(inc.services)

    async def close(self) -> None:
        return None

    def take(self) -> list[Opened]:
        out, self.new = self.new, []
        return out


def _steps(rows: list[tuple[float, str, str, float]],
           names: dict[str, str]) -> Iterator[tuple[float, list[SeriesKey], np.ndarray]]:
    """(time, keys, values) per time step, series keys built once."""
    keys: dict[tuple[str, str], SeriesKey] = {}
    taken: dict[str, set[str]] = {}
    i = 0
    while i < len(rows):
        t = rows[i][0]
        step_keys, values = [], []
        while i < len(rows) and rows[i][0] == t:
            _, service, metric, value = rows[i]
            k = keys.get((service, metric))
            if k is None:
                used = taken.setdefault(service, set())
                base = metric_name(metric)
                name, n = base, 2
                while name in used:
                    name, n = f"{base}_{n}", n + 1
                used.add(name)
                k = keys[(service, metric)] = SeriesKey.of(name, {"service": names[service]})
            step_keys.append(k)
            values.append(value)
            i += 1
        yield t, step_keys, np.asarray(values, dtype=float)


async def replay(recording: Recording, *, given_starts: bool, settings: RankSettings,
                 history_samples: int, progress: Callable[[float], None] | None = None,
                 evidence: float | None = None) -> Replay:
    """Replay one recording and rank at every incident start (see the module docstring); `evidence`
    replaces the shipped corroboration evidence of the anomaly alerts (0: every one fires)."""
    from vigil.app import build_engine
    from vigil.config import parse_config
    from vigil.store import open_store
    from vigil.testing import FakeClock, InlineWriter

    started = time.perf_counter()
    rows = recording.rows()
    originals = sorted({r[1] for r in rows} | {n for e in recording.edges for n in e})
    names = service_names(originals)
    edges, dropped = acyclic(recording.edges)
    depends_on: dict[str, list[str]] = {}
    for a, b in edges:
        depends_on.setdefault(names[a], []).append(names[b])
    folder = Path(tempfile.mkdtemp(prefix="vigil-rca-"))
    config = parse_config(config_text(names, edges, folder / "replay.db", detect=not given_starts,
                                     evidence=evidence), env={})
    store = open_store(config.store.url, config.store.retention)
    clock = FakeClock(rows[0][0] - 1)
    tap = AlertTap()
    engine = build_engine(config, store=store, clock=clock, collectors=[], writer=InlineWriter(),
                          worker=InlineWriter(), extra_stages=[tap])
    ranker = ShiftRanker(settings)
    reads = replace(settings.reads, history_samples=history_samples)
    pending: list[tuple[float, Opened | None]] = sorted(
        (f.start, None) for f in recording.faults) if given_starts else []
    ranked: dict[float, Ranked] = {}
    span = rows[-1][0] - rows[0][0] or 1.0

    async def rank(start: float, group: Opened | None) -> None:
        involved = tuple(sorted(group.services)) if group is not None else tuple(metric_services)
        in_scope = scope(involved, depends_on, metric_services)
        evidence = await engine.worker.call(read_evidence, store, start, in_scope, depends_on, reads)
        view = IncidentView(involved, start)
        suspects = ranker.rank(view, evidence)
        ranked[start] = Ranked(start, involved, evidence, suspects)

    metric_services = sorted({names[r[1]] for r in rows})
    samples = 0
    await engine.start()
    try:
        for t, keys, values in _steps(rows, names):
            if t > clock.now():
                await clock.advance(t - clock.now())
            samples += await engine.push(keys, np.full(len(keys), t), values)
            if not given_starts:
                pending += [(g.start, g) for g in tap.take()]
            while pending and pending[0][0] + RANK_DELAY_S <= t:
                await rank(*pending.pop(0))
            if progress is not None:
                progress((t - rows[0][0]) / span)
        if not given_starts:
            pending += [(g.start, g) for g in tap.take()]
        for start, group in pending:  # the recording ended before the delay passed: rank on what there is
            await rank(start, group)
    finally:
        await engine.stop()
        store.close()
        shutil.rmtree(folder, ignore_errors=True)
    opened = sorted(tap.opened.values(), key=lambda o: o.start)
    return Replay(recording, names, ranked, opened, samples, rows[0][0], rows[-1][0], dropped,
                  time.perf_counter() - started, len({(r[1], r[2]) for r in rows}), sorted(tap.starts))
