"""The audit log in the store: records are chained, filtered, masked; concurrent appenders (threads
through the engine's writer, and two stores on one database as two vigil instances) keep one valid
chain; a record changed in the database is found by the chain check."""

from __future__ import annotations

import asyncio
import threading

import sqlalchemy as sa

from vigil.audit import GENESIS, AuditLog, first_break
from vigil.store import Store, open_store
from vigil.store.audit import walk
from vigil.testing import FakeClock, InlineWriter
from vigil.writer import StoreWriter

T0 = 1_700_000_000.0


def chain_of(store: Store) -> tuple[int, object]:
    return first_break(walk(store.audit_page, page_size=7))  # small pages: the paging is exercised too


async def test_records_are_chained_in_order_and_read_back_with_filters(store: Store) -> None:
    clock = FakeClock(T0)
    audit = AuditLog(store, InlineWriter(), clock)
    audit.append("key:alice", "incident.acknowledge", {"incident": 3}, {"id": 3}, {"status": "acknowledged"}, 0.01,
                 incident=3, service="payments")
    await clock.advance(5)
    audit.append("engine", "scale", {"rule": "HPA", "signal": "cpu{service=\"api\"}"}, {"current_replicas": 2},
                 {"replicas": 4, "act": True}, 1.5, service="api")
    await audit.flush()
    newest, oldest = audit.records()
    assert (oldest.id, newest.id) == (1, 2)
    assert oldest.prev_hash == GENESIS and newest.prev_hash == oldest.hash
    assert oldest.actor == "key:alice" and oldest.incident == 3 and oldest.service == "payments"
    assert newest.reason == {"rule": "HPA", "signal": "cpu{service=\"api\"}"} and newest.duration_s == 1.5
    assert newest.ts == T0 + 5
    assert [r.id for r in audit.records(actor="engine")] == [2]
    assert [r.id for r in audit.records(incident=3)] == [1]
    assert [r.id for r in audit.records(service="api", action="scale")] == [2]
    assert [r.id for r in audit.records(since=T0 + 1)] == [2]
    assert [r.id for r in audit.records(until=T0 + 1)] == [1]
    assert [r.id for r in audit.records(text="ACKNOWLEDGED")] == [1]  # in the result; any case
    assert [r.id for r in audit.records(limit=1, before_id=2)] == [1]
    assert chain_of(store) == (2, None)


async def test_text_search_is_a_plain_substring_not_a_pattern(store: Store) -> None:
    audit = AuditLog(store, InlineWriter(), FakeClock(T0))
    audit.append("engine", "note", "50% done", {}, {}, 0)
    audit.append("engine", "note", "500 done", {}, {}, 0)
    audit.append("engine", "note", "a_b", {}, {}, 0)
    audit.append("engine", "note", "axb", {}, {}, 0)
    await audit.flush()
    assert [r.reason for r in audit.records(text="50%")] == ["50% done"]
    assert [r.reason for r in audit.records(text="a_b")] == ["a_b"]
    assert audit.records(text="(.*)+$") == []


async def test_secrets_are_masked_before_they_are_stored(store: Store) -> None:
    audit = AuditLog(store, InlineWriter(), FakeClock(T0), secrets={"hunter2-very-secret"})
    audit.append("engine", "webhook", "runbook step",
                 {"url": "https://bot:pw123@hooks.example/x?token=abc123", "headers": {"Authorization": "Bearer x"},
                  "note": "used hunter2-very-secret", "api_key": "k-123456"},
                 {"body": "password=letmein"}, 0.2)
    await audit.flush()
    [rec] = audit.records()
    text = repr(rec.view())
    for secret in ("pw123", "abc123", "Bearer x", "hunter2-very-secret", "k-123456", "letmein"):
        assert secret not in text, secret
    assert rec.inputs["url"] == "https://bot:***@hooks.example/x?token=***"
    assert chain_of(store) == (1, None)


def test_appends_from_many_threads_through_the_writer_keep_one_chain(store: Store) -> None:
    writer = StoreWriter()
    audit = AuditLog(store, writer, FakeClock(T0))

    def work(n: int) -> None:
        for i in range(25):
            audit.append(f"user:t{n}", "step", "", {"i": i}, {}, 0)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert audit.queued == 0
    assert chain_of(store) == (150, None)


async def test_appends_on_the_event_loop_are_batched_and_chained(store: Store) -> None:
    writer = StoreWriter()
    audit = AuditLog(store, writer, FakeClock(T0))
    pending = [audit.append("engine", "decide", "", {"i": i}, {}, 0) for i in range(40)]
    assert all(p is not None for p in pending)
    await asyncio.gather(*[p for p in pending if p is not None])
    await audit.flush()
    writer.close()
    assert chain_of(store) == (40, None)
    assert [r.inputs["i"] for r in reversed(audit.records(limit=100))] == list(range(40))  # in append order


def test_two_instances_on_one_database_keep_one_chain(store_url: str) -> None:
    stores = [open_store(store_url), open_store(store_url)]
    try:
        def work(s: Store, name: str) -> None:
            audit = AuditLog(s, InlineWriter(), FakeClock(T0))
            for i in range(30):
                audit.append(f"user:{name}", "step", "", {"i": i}, {}, 0)

        threads = [threading.Thread(target=work, args=(s, f"i{n}")) for n, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert chain_of(stores[0]) == (60, None)
        assert {r.actor for r in stores[0].audit_records(limit=100)} == {"user:i0", "user:i1"}
    finally:
        for s in stores:
            s.close()


async def test_a_changed_record_breaks_the_chain_at_that_record(store: Store, store_url: str) -> None:
    audit = AuditLog(store, InlineWriter(), FakeClock(T0))
    for i in range(5):
        audit.append("engine", "scale", "", {"replicas": i}, {}, 0, service="api")
    await audit.flush()
    eng = sa.create_engine(store_url)
    try:
        with eng.begin() as conn:
            conn.execute(sa.text("UPDATE audit_log SET inputs = :v WHERE id = 3"), {"v": '{"replicas":99}'})
        _, broken = chain_of(store)
        assert broken is not None and broken.id == 3 and "content" in broken.problem
        with eng.begin() as conn:  # a re-hashed forgery: the next record no longer points at it
            conn.execute(sa.text("UPDATE audit_log SET inputs = :v WHERE id = 3"), {"v": '{"replicas":2}'})
            conn.execute(sa.text("DELETE FROM audit_log WHERE id = 2"))
        _, broken = chain_of(store)
        assert broken is not None and broken.id == 3 and "removed" in broken.problem
    finally:
        eng.dispose()


async def test_records_the_store_refused_are_written_with_the_next(store: Store) -> None:
    class Flaky:
        def __init__(self) -> None:
            self.fail = True

        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        def audit_append(self, entries: list) -> list:
            if self.fail:
                raise RuntimeError("store down")
            return store.audit_append(entries)

    flaky = Flaky()
    audit = AuditLog(flaky, InlineWriter(), FakeClock(T0))
    pending = audit.append("engine", "first", "", {}, {}, 0)
    assert pending is not None
    await pending
    assert audit.queued == 1 and store.audit_records() == []
    flaky.fail = False
    audit.append("engine", "second", "", {}, {}, 0)
    await audit.flush()
    assert [r.action for r in reversed(store.audit_records())] == ["first", "second"]
