"""Maintenance windows runbooks open, in the store on SQLite and PostgreSQL, and the same contract for
the fake (`vigil.testing.MemoryActionStore`): one per service, opening again replaces, `open_at`
leaves out those ended, closing says whether there was one; and they outlive the store's process."""

from __future__ import annotations

from typing import Any

from vigil.heal.windows import WindowRecord
from vigil.store import open_store
from vigil.testing import MemoryActionStore


def check_contract(store: Any) -> None:
    store.open_maintenance(WindowRecord("api", 100.0, 200.0, "action:1 (quiet)", "steps[0] of quiet"))
    store.open_maintenance(WindowRecord("db", 100.0, 150.0, "action:2 (quiet)"))
    assert [w.service for w in store.maintenance_windows()] == ["api", "db"]
    assert [w.service for w in store.maintenance_windows(open_at=160.0)] == ["api"]
    store.open_maintenance(WindowRecord("api", 120.0, 900.0, "action:3 (longer)"))  # replaces api's
    [api] = store.maintenance_windows(open_at=160.0)
    assert (api.starts_at, api.ends_at, api.opened_by, api.reason) == (120.0, 900.0, "action:3 (longer)", "")
    assert store.close_maintenance("api") is True and store.close_maintenance("api") is False
    assert [w.service for w in store.maintenance_windows()] == ["db"]


def test_the_store_keeps_maintenance_windows(store: Any) -> None:
    check_contract(store)


def test_the_fake_keeps_the_same_contract() -> None:
    check_contract(MemoryActionStore())


def test_a_window_outlives_the_store_that_wrote_it(store_url: str) -> None:
    first = open_store(store_url)
    try:
        first.open_maintenance(WindowRecord("api", 100.0, 200.0, "action:1 (quiet)", "why"))
    finally:
        first.close()
    again = open_store(store_url)
    try:
        assert again.maintenance_windows(open_at=150.0) == [WindowRecord("api", 100.0, 200.0, "action:1 (quiet)",
                                                                         "why")]
    finally:
        again.close()
