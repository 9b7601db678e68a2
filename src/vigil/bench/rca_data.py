"""Recordings in the RCA data format (`<data>/<system>/<recording>/` with metrics.csv, faults.json and
optionally graph.csv; see the data README) and their mapping onto vigil's names: service names become
valid vigil service names (the original is kept for the output), metric names valid series names, and
graph.csv becomes `services[].depends_on` (acyclic, as vigil's configuration requires)."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_NOT_SERVICE = re.compile(r"[^a-z0-9_-]+")
_NOT_METRIC = re.compile(r"[^A-Za-z0-9_:]")
METRICS_HEADER = ["time", "service", "metric", "value"]


class DataError(ValueError):
    """A recording folder that does not follow the format; the message names the file and the fix."""


@dataclass(frozen=True)
class Fault:
    start: float
    end: float | None
    root_cause: str
    kind: str


@dataclass
class Recording:
    system: str
    name: str
    path: Path
    faults: list[Fault]
    edges: list[tuple[str, str]] = field(default_factory=list)

    def rows(self) -> list[tuple[float, str, str, float]]:
        """metrics.csv as (time, service, metric, value), checked for the header and ascending time."""
        path = self.path / "metrics.csv"
        out: list[tuple[float, str, str, float]] = []
        with path.open(newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header != METRICS_HEADER:
                raise DataError(f"{path}: the header must be {','.join(METRICS_HEADER)}, got {header}")
            last = float("-inf")
            for n, row in enumerate(reader, start=2):
                try:
                    t, service, metric, value = float(row[0]), row[1], row[2], float(row[3])
                except (ValueError, IndexError):
                    raise DataError(f"{path} line {n}: expected time,service,metric,value with numeric time "
                                    f"and value, got {row}") from None
                if t < last:
                    raise DataError(f"{path} line {n}: time {t:.0f} is before the previous row's; "
                                    "sort the rows by time")
                last = t
                out.append((t, service, metric, value))
        if not out:
            raise DataError(f"{path}: no samples")
        return out


def _faults(path: Path) -> list[Fault]:
    try:
        items = json.loads(path.read_text())
        return [Fault(float(x["start"]), None if x.get("end") is None else float(x["end"]),
                      str(x["root_cause"]), str(x.get("fault", "unknown"))) for x in items]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: expected a JSON list of {{\"start\", \"end\", \"root_cause\", \"fault\"}} "
                        f"objects ({exc})") from None


def _edges(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != ["caller", "callee"]:
        raise DataError(f"{path}: the header must be caller,callee")
    return [(r[0], r[1]) for r in rows[1:] if len(r) >= 2]


def find_recordings(data: Path) -> list[Recording]:
    """Every `<system>/<recording>/` folder under `data` holding metrics.csv and faults.json."""
    if not data.is_dir():
        raise DataError(f"--data {data}: not a folder; give the folder that holds <system>/<recording>/")
    found = []
    for folder in sorted(p for p in data.glob("*/*") if p.is_dir()):
        if not (folder / "metrics.csv").exists():
            continue
        if not (folder / "faults.json").exists():
            raise DataError(f"{folder}: metrics.csv without faults.json")
        found.append(Recording(folder.parent.name, folder.name, folder, _faults(folder / "faults.json"),
                               _edges(folder / "graph.csv")))
    if not found:
        raise DataError(f"--data {data}: no <system>/<recording>/metrics.csv found (see the RCA data format)")
    return found


def _unique(base: str, taken: set[str], limit: int, sep: str) -> str:
    name, n = base[:limit], 2
    while name in taken:
        suffix = f"{sep}{n}"
        name, n = base[:limit - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def service_names(originals: list[str]) -> dict[str, str]:
    """original -> a valid, unique vigil service name (lowercase letters, digits, '_' and '-')."""
    taken: set[str] = set()
    out = {}
    for name in sorted(set(originals)):
        base = _NOT_SERVICE.sub("-", name.lower()).strip("-_") or "service"
        out[name] = _unique(base, taken, 63, "-")
    return out


def metric_name(original: str) -> str:
    name = _NOT_METRIC.sub("_", original).strip("_") or "metric"
    return name if not name[0].isdigit() else "_" + name


def acyclic(edges: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
    """The edges without self-loops and without those that close a cycle (in a depth-first order over
    sorted names), and how many were dropped."""
    callees: dict[str, list[str]] = {}
    for a, b in dict.fromkeys(edges):
        if a != b:
            callees.setdefault(a, []).append(b)
    state: dict[str, int] = {}
    kept: list[tuple[str, str]] = []

    def visit(u: str) -> None:
        stack = [(u, iter(sorted(callees.get(u, ()))))]
        state[u] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) != 1:
                kept.append((node, nxt))
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(sorted(callees.get(nxt, ())))))

    for u in sorted(callees):
        if u not in state:
            visit(u)
    return kept, len(edges) - len(kept)


def config_text(services: dict[str, str], edges: list[tuple[str, str]], db: Path, detect: bool,
                evidence: float | None = None) -> str:
    """vigil.yaml for a replay: one service per recorded service (and per graph node), depends_on
    from the graph, detection on or off (with the shipped corroboration unless `evidence` is given),
    the tick at 60 s (simulated time moves a sample at a time)."""
    import yaml

    depends: dict[str, list[str]] = {}
    for a, b in edges:
        depends.setdefault(services[a], []).append(services[b])
    doc: dict[str, Any] = {"store": {"url": f"sqlite:///{db}"}, "engine": {"tick": "60s"}, "services": [
        {"name": v, "depends_on": sorted(set(depends.get(v, []))), "detect": {
            "enabled": detect, **({"corroboration": {"evidence": evidence}} if evidence is not None else {})}}
        for v in sorted(services.values())]}
    return yaml.safe_dump(doc, sort_keys=False)
