"""vigil's point against the HPA's whole cost/violation frontier, not one target.

The HPA is run at every target in `TARGETS`; its points are (replica-hours, violation minutes). The
frontier is their Pareto set (no other target both as cheap and with as few violations), sorted by cost,
and read by linear interpolation between neighbours:

- `violation_ratio_at_equal_cost` = vigil's violation minutes / those of an HPA with vigil's replica-hours.
- `cost_ratio_at_equal_violations` = vigil's replica-hours / those of an HPA with vigil's violation minutes;
  when vigil has no violations, that HPA is the cheapest frontier point with none.

Beyond the frontier's ends a ratio is read at the nearer end only when that can only be unfavourable to
vigil, otherwise it is null (not known, so not met):
- vigil cheaper than the cheapest HPA: the equal-cost HPA has at least the cheapest point's violations:
  that point is used. Dearer than the dearest frontier point: 0 if that point has no violations (more
  replicas cannot add any), else null.
- vigil with fewer violations than the safest HPA point (and not zero): the equal-violation HPA costs at
  least the dearest point: that point is used. More violations than the cheapest point: null. No HPA
  point without violations while vigil has none: null.
- 0/0 (vigil and the equal-cost HPA both without violations) is 1.0: no fewer violations.
"""

from __future__ import annotations

from typing import Any

TARGETS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.5 .. 0.95
VIOLATION_GOAL = 0.5  # at most half the violation minutes of an equal-cost HPA ...
COST_GOAL = 0.85  # ... or at most 85 % of the replica-hours of an equal-violation HPA


def pareto(points: list[dict[str, float]]) -> list[dict[str, float]]:
    """The points no other point dominates, cheapest first (violations then strictly decrease)."""
    pts = sorted(points, key=lambda p: (p["replica_hours"], p["violation_minutes"]))
    out: list[dict[str, float]] = []
    for p in pts:
        if not out or p["violation_minutes"] < out[-1]["violation_minutes"]:
            if out and p["replica_hours"] == out[-1]["replica_hours"]:
                out[-1] = p
            else:
                out.append(p)
    return out


def _lerp(x: float, x0: float, x1: float, y0: float, y1: float) -> float:
    return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def violations_at_cost(front: list[dict[str, float]], cost: float) -> tuple[float | None, str]:
    """Violation minutes of an HPA with `cost` replica-hours, and how it was read."""
    if cost < front[0]["replica_hours"]:
        return front[0]["violation_minutes"], "cheaper than every HPA target: the cheapest one's"
    if cost > front[-1]["replica_hours"]:
        if front[-1]["violation_minutes"] == 0:  # more replicas than a target without violations: none
            return 0.0, "dearer than an HPA target without violations: none"
        return None, "dearer than every HPA target: not known"
    for a, b in zip(front, front[1:]):
        if a["replica_hours"] <= cost <= b["replica_hours"]:
            return _lerp(cost, a["replica_hours"], b["replica_hours"], a["violation_minutes"],
                         b["violation_minutes"]), "interpolated"
    return front[-1]["violation_minutes"], "at the frontier's one point"


def cost_at_violations(front: list[dict[str, float]], minutes: float) -> tuple[float | None, str]:
    """Replica-hours of an HPA with `minutes` violation minutes, and how it was read."""
    safest = front[-1]
    if minutes == 0:
        if safest["violation_minutes"] == 0:
            return safest["replica_hours"], "the cheapest HPA target without violations"
        return None, "every HPA target has violations: not known"
    if minutes > front[0]["violation_minutes"]:
        return None, "more violations than every HPA target: not known"
    if minutes < safest["violation_minutes"]:
        return safest["replica_hours"], "fewer violations than every HPA target: the safest one's"
    for a, b in zip(front, front[1:]):  # violations decrease along the frontier
        if b["violation_minutes"] <= minutes <= a["violation_minutes"]:
            return _lerp(minutes, a["violation_minutes"], b["violation_minutes"], a["replica_hours"],
                         b["replica_hours"]), "interpolated"
    return front[0]["replica_hours"], "at the frontier's one point"


def compare(vigil: dict[str, Any], hpa_points: list[dict[str, float]], hpa_actions: int | None) -> dict[str, Any]:
    """The `frontier` object: HPA points, the two ratios, how each was read, and whether the goal is met."""
    front = pareto(hpa_points)
    cost, minutes = float(vigil["replica_hours"]), float(vigil["violation_minutes"])
    v_eq, v_how = violations_at_cost(front, cost)
    c_eq, c_how = cost_at_violations(front, minutes)
    if v_eq is None:
        vr = None
    elif v_eq > 0:
        vr = round(minutes / v_eq, 4)
    else:
        vr = 1.0 if minutes == 0 else None
        if minutes > 0:
            v_how += "; that HPA has no violations"
    cr = round(cost / c_eq, 4) if c_eq else None
    actions_ok = hpa_actions is None or int(vigil["actions"]) <= hpa_actions
    met = actions_ok and ((vr is not None and vr <= VIOLATION_GOAL) or (cr is not None and cr <= COST_GOAL))
    return {
        "hpa_points": hpa_points,
        "pareto_targets": [p["target"] for p in front],
        "hpa_violation_minutes_at_equal_cost": None if v_eq is None else round(v_eq, 2),
        "equal_cost_read": v_how,
        "hpa_replica_hours_at_equal_violations": None if c_eq is None else round(c_eq, 2),
        "equal_violations_read": c_how,
        "violation_ratio_at_equal_cost": vr,
        "cost_ratio_at_equal_violations": cr,
        "actions_vs_hpa_0.7": None if not hpa_actions else round(int(vigil["actions"]) / hpa_actions, 3),
        "met": met,
    }
