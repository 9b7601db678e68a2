"""The guard rails, one policy shape for every action: each guard refuses on its own, in order, and
reads the persisted history (so restarting vigil resets no counter)."""

from __future__ import annotations

import pytest

from vigil.config.runbooks import Guards, RemediationConfig, ResolvedGuards
from vigil.heal.guards import check, confidence_of
from vigil.heal.ledger import DENIED, PENDING, RUNNING, SUCCEEDED, ActionRecord, BadMove

NOW = 1_000_000.0
G = ResolvedGuards()  # cooldown 5m, 3 per hour, 50%, confidence 0.5, no approval


def done(i: int, at: float, runbook: str = "rb", service: str = "api", state: str = SUCCEEDED) -> ActionRecord:
    return ActionRecord(i, f"k{i}", runbook, service, 1, state, "active", at, at, finished_at=at)


def test_every_guard_allows_a_first_action() -> None:
    v = check(G, "rb", "api", NOW, 1.0, [], paused=False, maintenance_until=None)
    assert v.ok and v.rule == "allowed"


def test_the_kill_switch_comes_first() -> None:
    v = check(G, "rb", "api", NOW, 1.0, [], paused=True, maintenance_until=None)
    assert not v.ok and v.rule == "paused"


def test_a_maintenance_window_holds_actions_until_it_closes() -> None:
    assert check(G, "rb", "api", NOW, 1.0, [], paused=False, maintenance_until=NOW + 10).rule == "maintenance"
    assert check(G, "rb", "api", NOW, 1.0, [], paused=False, maintenance_until=NOW - 1).ok


def test_one_action_at_a_time_per_service() -> None:
    running = ActionRecord(1, "k", "other", "api", None, RUNNING, "active", NOW - 5000, NOW - 5000)
    assert check(G, "rb", "api", NOW, 1.0, [running], paused=False, maintenance_until=None).rule == "busy"
    assert check(G, "rb", "db", NOW, 1.0, [running], paused=False, maintenance_until=None).ok


def test_cooldown_after_any_action_on_the_service() -> None:
    history = [done(1, NOW - 100, runbook="other")]
    assert check(G, "rb", "api", NOW, 1.0, history, paused=False, maintenance_until=None).rule == "cooldown"
    assert check(G, "rb", "api", NOW + 201, 1.0, history, paused=False, maintenance_until=None).ok


def test_at_most_three_attempts_per_hour_by_default() -> None:
    history = [done(i, NOW - 3000 + i * 600) for i in range(3)]  # the last ended 1800 s ago: past the cooldown
    v = check(G, "rb", "api", NOW, 1.0, history, paused=False, maintenance_until=None)
    assert not v.ok and v.rule == "max_attempts" and "3 actions" in v.why
    assert check(G, "rb", "api", NOW + 700, 1.0, history, paused=False, maintenance_until=None).ok  # first left
    assert check(G, "other", "api", NOW, 1.0, history, paused=False, maintenance_until=None).ok  # per runbook


def test_denied_actions_use_no_attempt_and_start_no_cooldown() -> None:
    history = [done(i, NOW - 10, state=DENIED) for i in range(5)]
    assert check(G, "rb", "api", NOW, 1.0, history, paused=False, maintenance_until=None).ok


def test_minimum_confidence_in_the_root_cause() -> None:
    assert check(G, "rb", "api", NOW, 0.4, [], paused=False, maintenance_until=None).rule == "confidence"
    ranking = [{"service": "db", "score": 3.0}, {"service": "api", "score": 1.0}]
    assert confidence_of(ranking) == pytest.approx(0.75)
    assert confidence_of([]) == 1.0 and confidence_of([{"service": "db", "score": 0.2}]) == 1.0


def test_runbook_overrides_win_over_the_defaults() -> None:
    cfg = RemediationConfig(guards=Guards(cooldown=60.0, max_attempts=5))
    g = cfg.resolve(Guards(max_attempts=1, approval=True))
    assert (g.cooldown, g.max_attempts, g.approval, g.window) == (60.0, 1, True, 3600.0)


def test_the_state_machine_refuses_moves_it_does_not_have() -> None:
    a = ActionRecord(1, "k", "rb", "api", None, PENDING, "active", NOW, NOW)
    with pytest.raises(BadMove):
        a.move(SUCCEEDED, NOW)
    a.move("approved", NOW)
    a.move(RUNNING, NOW)
    with pytest.raises(BadMove):
        a.move("approved", NOW)
