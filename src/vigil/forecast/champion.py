"""Per-series champion/challenger: which forecaster each series uses, every version kept, rollback in
one call, retraining on a schedule and on drift.

Rules (each decision says which one applied in `Verdict.reason`):
- a challenger of another kind replaces the champion only if its rolling backtest score
  (`BacktestResult.score`: MASE plus any coverage miss) on the same history is strictly lower than the
  champion kind's on that history;
- a retrain of the champion's own kind cannot be compared on the same data (it would tie), so it is
  accepted as a refresh unless its backtest is worse than the champion's recorded one by more than
  `refresh_tolerance` (training on an outage must not replace a good model);
- every candidate becomes a version (promoted or not); `rollback` makes the previous champion current.

State lives in a `StateStore` (vigil's store implements it; `MemoryStateStore` is the fake): one JSON
index per series and one blob per fitted version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson

from vigil.forecast.backtest import BacktestResult, backtest
from vigil.forecast.base import Forecaster, SeasonLength
from vigil.forecast.registry import FLEET_DEFAULT, create, dump_state, load_state


class StateStore(Protocol):
    def save_state(self, key: str, blob: bytes) -> None: ...

    def load_state(self, key: str) -> bytes | None: ...


class MemoryStateStore:
    """In-memory StateStore for tests and replays."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def save_state(self, key: str, blob: bytes) -> None:
        self.blobs[key] = bytes(blob)

    def load_state(self, key: str) -> bytes | None:
        return self.blobs.get(key)


@dataclass(slots=True)
class ModelVersion:
    version: int
    kind: str
    trained_at: float
    backtest: dict[str, Any]
    promoted: bool
    reason: str

    @property
    def score(self) -> float:
        return float(self.backtest.get("score", float("inf")))


@dataclass(slots=True)
class SeriesModels:
    series: str
    versions: list[ModelVersion] = field(default_factory=list)
    champions: list[int] = field(default_factory=list)  # champion history, current last
    drift_pending: bool = False

    @property
    def champion(self) -> ModelVersion | None:
        return self.versions[self.champions[-1] - 1] if self.champions else None


@dataclass(slots=True)
class Verdict:
    series: str
    promoted: bool
    reason: str
    candidate: ModelVersion
    champion: ModelVersion | None  # the champion after the decision


class ModelRegistry:
    def __init__(self, store: StateStore, season_length: SeasonLength, *, horizon: int = 24, level: int = 80,
                 windows: int = 7, retrain_every: float = 86_400.0, refresh_tolerance: float = 0.25,
                 prefix: str = "forecast-models") -> None:
        self.store = store
        self.season_length = season_length
        self.horizon = horizon
        self.level = level
        self.windows = windows
        self.retrain_every = retrain_every
        self.refresh_tolerance = refresh_tolerance
        self.prefix = prefix

    # ------------------------------------------------------------------ persistence
    def _index_key(self, series: str) -> str:
        return f"{self.prefix}/{series}/index"

    def _blob_key(self, series: str, version: int) -> str:
        return f"{self.prefix}/{series}/v{version}"

    def models(self, series: str) -> SeriesModels:
        blob = self.store.load_state(self._index_key(series))
        if blob is None:
            return SeriesModels(series)
        doc = orjson.loads(blob)
        return SeriesModels(series, [ModelVersion(**v) for v in doc["versions"]], list(doc["champions"]),
                            bool(doc.get("drift_pending", False)))

    def _save(self, m: SeriesModels) -> None:
        doc = {"versions": [asdict(v) for v in m.versions], "champions": m.champions,
               "drift_pending": m.drift_pending}
        self.store.save_state(self._index_key(m.series), orjson.dumps(doc))

    # ------------------------------------------------------------------ queries
    def champion(self, series: str) -> ModelVersion | None:
        return self.models(series).champion

    def forecaster(self, series: str, version: int | None = None) -> Forecaster | None:
        """The fitted champion (or a given version), ready to predict; None if the series has none."""
        m = self.models(series)
        v = version or (m.champion.version if m.champion else None)
        blob = None if v is None else self.store.load_state(self._blob_key(series, v))
        return None if blob is None else load_state(blob)

    # ------------------------------------------------------------------ decisions
    def _backtest(self, kind: str, y: np.ndarray) -> BacktestResult:
        return backtest(y, kind, self.season_length, self.horizon, windows=self.windows, level=self.level)

    def propose(self, series: str, kind: str, y: np.ndarray, now: float,
                ts: np.ndarray | None = None) -> Verdict:
        """Backtest `kind` on y; make it champion if the rules above say so; keep it as a version."""
        m = self.models(series)
        result = self._backtest(kind, y)
        current = m.champion
        if current is None:
            promoted, reason = True, "first model for this series"
        elif current.kind == kind:
            limit = current.score * (1 + self.refresh_tolerance)
            promoted = result.score <= limit
            reason = (f"refresh of {kind}: score {result.score:.3f} vs recorded {current.score:.3f} "
                      f"(accepted up to {limit:.3f})")
        else:
            incumbent = self._backtest(current.kind, y)
            promoted = result.score < incumbent.score
            reason = (f"challenger {kind} score {result.score:.3f} {'<' if promoted else '>='} "
                      f"champion {current.kind} {incumbent.score:.3f} on the same history")
        version = ModelVersion(len(m.versions) + 1, kind, now, result.as_dict(), promoted, reason)
        m.versions.append(version)
        self.store.save_state(self._blob_key(series, version.version),
                              dump_state(create(kind).fit(y, self.season_length, ts)))
        if promoted:
            m.champions.append(version.version)
        self._save(m)
        return Verdict(series, promoted, reason, version, m.champion)

    def rollback(self, series: str) -> ModelVersion | None:
        """Make the previous champion current again; returns it (None if there was none before)."""
        m = self.models(series)
        if len(m.champions) < 2:
            return None
        m.champions.pop()
        self._save(m)
        return m.champion

    # ------------------------------------------------------------------ retraining
    def on_drift(self, series: str) -> None:
        """A drift signal arrived for this series: retrain it at the next opportunity."""
        m = self.models(series)
        m.drift_pending = True
        self._save(m)

    def due(self, series: str, now: float) -> str | None:
        """Why the series should be retrained now (None if it should not)."""
        m = self.models(series)
        if m.champion is None:
            return "no model yet"
        if m.drift_pending:
            return "drift signal"
        if now - m.champion.trained_at >= self.retrain_every:
            return f"schedule: trained {now - m.champion.trained_at:.0f} s ago"
        return None

    def retrain(self, series: str, y: np.ndarray, now: float, challengers: Sequence[str] = (),
                ts: np.ndarray | None = None, first: str = FLEET_DEFAULT) -> list[Verdict]:
        """Refresh the champion's kind (or `first`, the fleet default unless told), then try each
        challenger; clears drift."""
        current = self.champion(series)
        verdicts = [self.propose(series, current.kind if current else first, y, now, ts)]
        for kind in challengers:
            champ = self.champion(series)
            if champ is None or kind != champ.kind:
                verdicts.append(self.propose(series, kind, y, now, ts))
        m = self.models(series)
        m.drift_pending = False
        self._save(m)
        return verdicts
