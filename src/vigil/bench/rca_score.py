"""Scoring of root-cause rankings (the RCA data README's protocol) and leave-one-system-out
cross-validation of the ranker's settings.

AC@k is the share of faults whose root cause is among the first k distinct services of its ranking (a
fault with no ranking is a miss); Avg@5 is the mean of AC@1..AC@5."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from vigil.incidents.rootcause import RankSettings

# The settings cross-validation chooses from; every other setting is fixed (docs/rca.md says why).
GRID: dict[str, tuple[Any, ...]] = {
    "history_samples": (60, 120),
    "saturation": (3.0, 10.0, 30.0),
    "back": (0.2, 0.5, 1.0),
    "prior": (0.0, 0.3, 1.0),
}


def distinct(ranking: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ranking))


def position(ranking: Sequence[str], root: str) -> int | None:
    """1-based place of `root` among the ranking's distinct services, None if absent."""
    names = distinct(ranking)
    return names.index(root) + 1 if root in names else None


def ac_at(positions: Sequence[int | None], k: int) -> float:
    if not positions:
        return 0.0
    return sum(1 for p in positions if p is not None and p <= k) / len(positions)


def figures(positions: Sequence[int | None]) -> dict[str, Any]:
    """{"faults", "AC@1", "AC@3", "Avg@5"} of these faults' root-cause positions."""
    return {"faults": len(positions), "AC@1": round(ac_at(positions, 1), 4),
            "AC@3": round(ac_at(positions, 3), 4),
            "Avg@5": round(sum(ac_at(positions, k) for k in range(1, 6)) / 5, 4)}


def grouped(items: Sequence[Mapping[str, Any]], by: str) -> dict[str, dict[str, Any]]:
    """Figures per value of `by` (e.g. "system", "fault") over items carrying a "position"."""
    out: dict[str, list[int | None]] = {}
    for it in items:
        out.setdefault(str(it[by]), []).append(it["position"])
    return {k: figures(v) for k, v in sorted(out.items())}


def criterion(positions_by_system: Mapping[str, Sequence[int | None]]) -> float:
    """What cross-validation maximises on the training systems: the mean over systems (each counts the
    same, however many faults it has) of (AC@1 + Avg@5) / 2."""
    parts = []
    for positions in positions_by_system.values():
        f = figures(positions)
        parts.append((f["AC@1"] + f["Avg@5"]) / 2)
    return sum(parts) / len(parts) if parts else 0.0


def grid_settings(base: RankSettings, grid: Mapping[str, Sequence[Any]] = GRID) -> list[RankSettings]:
    names = sorted(grid)
    combos = itertools.product(*(grid[n] for n in names))
    return [base.with_(**dict(zip(names, values, strict=True))) for values in combos]


@dataclass(frozen=True)
class CaseLabel:
    system: str
    root: str
    kind: str = ""


def tuned(s: RankSettings, grid: Mapping[str, Sequence[Any]] = GRID) -> dict[str, Any]:
    return {k: v for k, v in asdict(s).items() if k in grid}


Ranks = Callable[[RankSettings, int], "list[str] | None"]


def leave_one_system_out(cases: Sequence[CaseLabel], rank_with: Ranks, base: RankSettings,
                         grid: Mapping[str, Sequence[Any]] = GRID) -> dict[str, Any]:
    """For each system: choose the grid setting that maximises `criterion` on the other systems, and
    score it on the held-out one. `rank_with(settings, i)` ranks case i (None: no ranking, a miss).
    Also reports the setting the criterion chooses on every system together (in-sample)."""
    systems = sorted({c.system for c in cases})
    if len(systems) < 2:
        return {"skipped": "leave-one-system-out needs at least 2 systems in --data"}
    candidates = grid_settings(base, grid)
    table: list[list[int | None]] = []
    for s in candidates:
        table.append([position(r, c.root) if (r := rank_with(s, i)) is not None else None
                      for i, c in enumerate(cases)])

    def by_system(row: list[int | None], keep: Iterable[str]) -> dict[str, list[int | None]]:
        chosen = set(keep)
        out: dict[str, list[int | None]] = {}
        for c, p in zip(cases, row, strict=True):
            if c.system in chosen:
                out.setdefault(c.system, []).append(p)
        return out

    folds, held_positions, per_system = [], [], {}
    held_rows: list[dict[str, Any]] = []
    for held in systems:
        train = [s for s in systems if s != held]
        best = max(range(len(candidates)), key=lambda j: (criterion(by_system(table[j], train)), -j))
        positions = by_system(table[best], [held])[held]
        held_positions += positions
        held_rows += [{"fault": c.kind, "position": table[best][i]}
                      for i, c in enumerate(cases) if c.system == held]
        per_system[held] = figures(positions)
        folds.append({"held_out": held, "chosen": tuned(candidates[best], grid),
                      "train_criterion": round(criterion(by_system(table[best], train)), 4),
                      "held_out_figures": per_system[held]})
    best_all = max(range(len(candidates)), key=lambda j: (criterion(by_system(table[j], systems)), -j))
    return {"protocol": "leave one system out; the setting maximising the mean over training systems of "
                        "(AC@1 + Avg@5) / 2 is scored on the held-out system",
            "grid": {k: list(v) for k, v in grid.items()}, "folds": folds, "systems": per_system,
            "all": figures(held_positions), "faults_by_kind": grouped(held_rows, "fault"),
            "in_sample_choice": tuned(candidates[best_all], grid),
            "in_sample_criterion": round(criterion(by_system(table[best_all], systems)), 4)}
