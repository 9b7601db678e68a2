"""A root cause explains its callers' anomalies: a personalised random walk on the dependency graph,
weighted by how anomalous each service is (the MicroRCA / RCAEval family of baselines).

From each service the walker moves to a service it calls in proportion to that callee's anomaly (the
trouble is probably further down), back to one of its callers with `back` times their anomaly (so it
does not get stuck on a quiet leaf; with `prior`, a callee weighs a little even when it looks
normal), or stays, with weight the anomaly it has beyond its most anomalous
callee (`stay="beyond"`: a caller that is only as anomalous as what it calls passes the blame on) or its
whole anomaly (`stay="own"`). It restarts in proportion to the anomalies with probability
`1 - damping`. The stationary distribution is the ranking. Services outside the graph keep their own
share, so without a graph the walk ranks by anomaly alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

ITERATIONS = 100


def walk(anomaly: Mapping[str, float], depends_on: Mapping[str, Sequence[str]], *, back: float = 0.5,
         stay: str = "own", damping: float = 0.85, prior: float = 0.0) -> dict[str, float]:
    """The walk's stationary share per service of `anomaly` (nodes of the graph without an anomaly
    score take part with anomaly 0 and are left out of the answer). `prior`: a move to a callee weighs
    its anomaly plus `prior` times the mean anomaly, so a caller that is anomalous while what it calls
    looks normal (a delay on the network to a callee) still passes some blame down."""
    if stay not in ("own", "beyond"):
        raise ValueError(f"stay must be 'own' or 'beyond', got {stay!r}")
    nodes = sorted(set(anomaly) | set(depends_on) | {c for cs in depends_on.values() for c in cs})
    index = {n: i for i, n in enumerate(nodes)}
    a = np.array([max(float(anomaly.get(n, 0.0)), 0.0) for n in nodes])
    if not a.sum():
        return {s: 0.0 for s in anomaly}
    down = a + prior * a.mean()
    moves = np.zeros((len(nodes), len(nodes)))
    for caller, callees in depends_on.items():
        i = index[caller]
        for callee in callees:
            j = index[callee]
            if i != j:
                moves[i, j] += down[j]
                moves[j, i] += back * a[i]
    for i in range(len(nodes)):
        below = [index[c] for c in depends_on.get(nodes[i], ()) if index[c] != i]
        beyond = a[i] - max((a[j] for j in below), default=0.0)
        moves[i, i] += a[i] if stay == "own" else max(beyond, 0.0)
        total = moves[i].sum()
        if total <= 0:  # nowhere to go: stay
            moves[i, i], total = 1.0, 1.0
        moves[i] /= total
    restart = a / a.sum()
    share = restart.copy()
    for _ in range(ITERATIONS):
        share = (1 - damping) * restart + damping * share @ moves
    return {s: float(share[index[s]]) for s in anomaly}
