"""Remediation actions in the store, on SQLite and PostgreSQL, and the same contract for the fake
(`vigil.testing.MemoryActionStore`): an action and its steps round-trip, updates replace, the
idempotency key is unique, `unfinished` finds what a restart must reconcile."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from vigil.heal.ledger import RUNNING, SUCCEEDED, ActionRecord, StepRecord
from vigil.testing import MemoryActionStore


def _action(i: int, state: str = RUNNING, key: str | None = None) -> ActionRecord:
    return ActionRecord(i, key or f"rb:api:incident-{i}.0", "rb", "api", i, state, "active", 100.0 + i, 100.0 + i,
                        reason={"alerts": ["Down"]}, story=["matched"], verify_deadline=300.0)


def check_contract(store: Any) -> None:
    a = _action(1)
    store.save_action(a)
    store.save_step(StepRecord(1, "steps", 0, "restart", "running", 101.0))
    store.save_step(StepRecord(1, "steps", 0, "restart", "succeeded", 101.0, 102.0, "restarted 1", {"restarted": 1}))
    store.save_step(StepRecord(1, "rollback", 0, "scale", "running", 103.0))
    store.save_action(_action(2, SUCCEEDED))
    got = store.action(1)
    assert got.reason == {"alerts": ["Down"]} and got.story == ["matched"] and got.verify_deadline == 300.0
    assert [(s.phase, s.index, s.state) for s in got.steps] == [("steps", 0, "succeeded"), ("rollback", 0, "running")]
    assert got.steps[0].result == {"restarted": 1} and got.steps[0].finished_at == 102.0
    assert [x.id for x in store.actions("unfinished")] == [1]
    assert [x.id for x in store.actions()] == [2, 1] and [x.id for x in store.actions(since=101.5)] == [2]
    got.state, got.outcome = SUCCEEDED, "verified"
    store.save_action(got)
    assert store.action(1).state == SUCCEEDED and store.actions("unfinished") == []
    assert store.last_action_id() == 2 and store.action(99) is None


def test_the_store_keeps_actions_and_their_steps(store: Any) -> None:
    check_contract(store)
    with pytest.raises(sa.exc.IntegrityError):  # one action per idempotency key
        store.save_action(_action(3, key="rb:api:incident-1.0"))


def test_the_fake_keeps_the_same_contract() -> None:
    check_contract(MemoryActionStore())
