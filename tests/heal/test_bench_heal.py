"""`vigil bench heal`: the seeded fault plan, the figures it reports, and the options refused with why.
(The bench itself runs the real fleet for minutes: it is run by hand, its figures in docs/healing.md.)"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vigil.bench.heal import app, figures, plan


def test_the_plan_is_seeded_and_covers_every_kind() -> None:
    a, b = plan(["crash", "hang", "dependency"], 4, seed=7), plan(["crash", "hang", "dependency"], 4, seed=7)
    assert a == b and len(a) == 12 and a != plan(["crash", "hang", "dependency"], 4, seed=8)
    assert {k for k, _ in a} == {"crash", "hang", "dependency"}
    assert all(s in ("catalog", "payments") for k, s in a if k == "dependency")  # storefront's callees


def test_figures_count_what_the_issue_names() -> None:
    rows = [{"detection_s": 2.0, "recovery_s": 30.0, "resolved": True, "actions": 1, "actions_against_healthy": 0,
             "duplicate_actions": 0, "escalations": 0, "escalated_if_unresolved": True},
            {"detection_s": 4.0, "recovery_s": None, "resolved": False, "actions": 2, "actions_against_healthy": 1,
             "duplicate_actions": 0, "escalations": 1, "escalated_if_unresolved": True}]
    f = figures(rows)
    assert f == {"faults": 2, "resolved_automatically_fraction": 0.5, "detection_s_median": 3.0,
                 "recovery_s_median": 30.0, "actions": 3, "actions_against_healthy": 1, "duplicate_actions": 0,
                 "escalations": 1, "unresolved_not_escalated": 0}


def test_unknown_kinds_and_kill_over_replicated_kinds_are_refused_saying_so() -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["--kill", "3", "--kinds", "crash,deploy"])
    assert r.exit_code == 2 and "--kill cannot run ['deploy']" in r.output
    r = runner.invoke(app, ["--kinds", "bogus"])
    assert r.exit_code == 2 and "unknown kind" in r.output


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_smoke_one_crash_in_the_real_fleet_is_healed() -> None:
    r = CliRunner().invoke(app, ["--json", "--kinds", "crash", "--faults-per-kind", "1", "--cooldown", "2"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(out["total"]) >= {"faults", "resolved_automatically_fraction", "detection_s_median",
                                 "recovery_s_median", "actions", "actions_against_healthy", "duplicate_actions",
                                 "escalations"}
    assert out["kinds"]["crash"]["faults"] == 1 and out["total"]["resolved_automatically_fraction"] == 1.0
    assert out["total"]["actions_against_healthy"] == 0 and out["total"]["duplicate_actions"] == 0
