"""AC@k and Avg@5 on hand-computed examples, and leave-one-system-out choosing per fold."""

from __future__ import annotations

import pytest

from vigil.bench.rca_score import (
    CaseLabel,
    ac_at,
    criterion,
    distinct,
    figures,
    grouped,
    leave_one_system_out,
    position,
)
from vigil.incidents.rootcause import RankSettings


def test_position_counts_distinct_services_only() -> None:
    assert distinct(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]
    assert position(["a", "a", "b", "c"], "c") == 3  # the repeated "a" does not push c down
    assert position(["a", "b"], "z") is None
    assert position([], "a") is None


def test_ac_at_k_by_hand() -> None:
    # four faults: root first, root third, root absent, no ranking at all
    positions = [1, 3, None, None]
    assert ac_at(positions, 1) == 0.25
    assert ac_at(positions, 2) == 0.25
    assert ac_at(positions, 3) == 0.5
    assert ac_at(positions, 5) == 0.5
    assert ac_at([], 1) == 0.0
    # Avg@5 = (0.25 + 0.25 + 0.5 + 0.5 + 0.5) / 5 = 0.4
    assert figures(positions) == {"faults": 4, "AC@1": 0.25, "AC@3": 0.5, "Avg@5": 0.4}


def test_avg5_with_a_root_at_every_place() -> None:
    # positions 1..5 and one at 6: AC@k = k/6, Avg@5 = (1+2+3+4+5)/30 = 0.5
    f = figures([1, 2, 3, 4, 5, 6])
    assert f["AC@1"] == pytest.approx(1 / 6, abs=1e-4) and f["Avg@5"] == 0.5


def test_grouped_scores_each_value_apart() -> None:
    rows = [{"system": "a", "position": 1}, {"system": "a", "position": 2}, {"system": "b", "position": None}]
    assert grouped(rows, "system") == {"a": {"faults": 2, "AC@1": 0.5, "AC@3": 1.0, "Avg@5": 0.9},
                                       "b": {"faults": 1, "AC@1": 0.0, "AC@3": 0.0, "Avg@5": 0.0}}


def test_criterion_weighs_systems_equally() -> None:
    # system x: 1 fault found first -> (1 + 1) / 2 = 1; system y: 3 faults, none found -> 0
    assert criterion({"x": [1], "y": [None, None, None]}) == 0.5


def test_leave_one_system_out_chooses_on_the_others_and_scores_the_held_out() -> None:
    """Two settings: saturation 3 finds every root of systems a and b, saturation 10 only those of c.
    Held out a or b, the others (one of which is c) decide; scored on the held-out system only."""
    cases = [CaseLabel("a", "r", "cpu"), CaseLabel("a", "r", "cpu"), CaseLabel("b", "r", "disk"),
             CaseLabel("c", "r", "cpu")]

    def rank_with(s: RankSettings, i: int) -> list[str] | None:
        good = (s.saturation == 3.0) == (cases[i].system in ("a", "b"))
        return ["r", "x"] if good else ["x", "y", "z", "w", "v", "r"]

    cv = leave_one_system_out(cases, rank_with, RankSettings(), {"saturation": (3.0, 10.0)})
    chosen = {f["held_out"]: f["chosen"]["saturation"] for f in cv["folds"]}
    # held out a: b prefers 3, c prefers 10, a tie broken towards the first in the grid (3)
    assert chosen == {"a": 3.0, "b": 3.0, "c": 3.0}
    assert cv["systems"]["a"]["AC@1"] == 1.0 and cv["systems"]["c"]["AC@1"] == 0.0
    assert cv["all"] == figures([1, 1, 1, 6])  # c's root is 6th: outside the first 5
    assert cv["in_sample_choice"] == {"saturation": 3.0}
    assert cv["faults_by_kind"]["cpu"] == figures([1, 1, 6]) and cv["faults_by_kind"]["disk"]["AC@1"] == 1.0


def test_cross_validation_needs_two_systems() -> None:
    cv = leave_one_system_out([CaseLabel("a", "r")], lambda s, i: ["r"], RankSettings())
    assert "at least 2 systems" in cv["skipped"]
