"""The outbox on a real store (SQLite and PostgreSQL) with scripted notifiers, as timelines: `now` moves
only when the test says so, and InlineWriter runs each store call in place."""

from __future__ import annotations

import random

import pytest

from tests.notify.conftest import T0, notice
from vigil.breaker import BreakerPolicy
from vigil.notify.outbox import Outbox
from vigil.notify.policy import OutboxPolicy, RetryPolicy
from vigil.testing import FakeNotifier, InlineWriter

FAST = OutboxPolicy(
    RetryPolicy(initial_backoff=1.0, max_backoff=60.0, max_attempts=5, max_age=3600.0),
    BreakerPolicy(min_calls=1000),
)  # breaker out of the way unless a test wants it


def outbox(store, policy: OutboxPolicy = FAST, seed: int = 7, **receivers: list) -> Outbox:
    return Outbox(store, InlineWriter(), receivers, policy, rng=random.Random(seed))


async def run(box: Outbox, now: float) -> list:
    """One pass: tick, then let the attempts it started finish (they report at the next tick)."""
    out = await box.tick(now)
    await box.idle()
    return out


async def test_a_notice_is_written_before_anything_is_sent_and_delivered_once(store):
    hook = FakeNotifier()
    box = outbox(store, team=[hook])
    result = await box.enqueue([notice("k1")], T0)
    assert result.added == 1
    rows = store.outbox_entries()
    assert [(r.key, r.receiver, r.integration, r.state) for r in rows] == [
        ("k1", "team", "webhook[0]", "pending")
    ]
    assert hook.attempts == []  # written, not yet sent: sending starts at the tick
    await run(box, T0)
    out = await box.tick(T0 + 1)
    assert hook.keys == ["k1"]
    assert [(o.key, o.state) for o in out] == [("k1", "delivered")]
    assert store.outbox_entries()[0].state == "delivered"
    assert out[0].event().kind == "notification" and "k1" in str(out[0].event().data)


async def test_the_same_key_twice_is_sent_once_even_after_it_was_delivered(store):
    hook = FakeNotifier()
    box = outbox(store, team=[hook])
    r1 = await box.enqueue([notice("k1"), notice("k1")], T0)
    assert (r1.added, r1.duplicates) == (1, 1)
    await run(box, T0)
    r2 = await box.enqueue([notice("k1")], T0 + 5)  # long delivered: the store still knows the key
    await run(box, T0 + 6)
    assert r2.duplicates == 1 and hook.keys == ["k1"]
    assert len(store.outbox_entries()) == 1


async def test_retries_back_off_with_full_jitter_then_a_dead_letter(store):
    hook = FakeNotifier(default="retry")
    box = outbox(store, team=[hook])
    await box.enqueue([notice("k1")], T0)
    now, waits = T0, []
    for _ in range(20):
        out = await run(box, now)
        retry = [o for o in out if o.state == "retrying"]
        if retry:
            waits.append(retry[0].next_at - now)
        if any(o.state == "dead" for o in out):
            break
        row = store.outbox_entries()[0]
        now = max(now + 0.001, row.next_at)  # jump to when it is due
    assert len(hook.attempts) == 5  # max_attempts
    # the delay after attempt n is uniform in [0, min(60, 1 * 2^(n-1))]
    assert len(waits) == 4 and all(0 <= w <= min(60.0, 2.0**i) for i, w in enumerate(waits))
    dead = store.outbox_entries(state="dead")
    assert [r.key for r in dead] == ["k1"] and dead[0].attempts == 5
    assert "gave up after 5 attempt(s)" in dead[0].last_error and "503" in dead[0].last_error


async def test_jitter_is_seeded(store):
    def delays(seed: int) -> list[float]:
        rng = random.Random(seed)
        return [RetryPolicy().delay(n, rng) for n in range(1, 8)]

    assert delays(3) == delays(3) and delays(3) != delays(4)


async def test_a_failure_not_worth_retrying_is_a_dead_letter_at_once_and_can_be_requeued(store):
    hook = FakeNotifier(script=["fail"])
    box = outbox(store, team=[hook])
    await box.enqueue([notice("k1")], T0)
    await run(box, T0)
    out = await box.tick(T0 + 1)
    assert [o.state for o in out] == ["dead"] and len(hook.attempts) == 1
    [dead] = store.outbox_entries(state="dead")
    assert "not worth retrying" in dead.last_error
    result = await box.requeue([dead.id, 999_999], T0 + 10)
    assert result.requeued == [dead.id] and "no such" in result.refused[999_999]
    await box.idle()
    await box.tick(T0 + 11)
    assert hook.keys == ["k1"] and store.outbox_entries()[0].state == "delivered"
    again = await box.requeue([dead.id], T0 + 12)
    assert "not a dead letter" in again.refused[dead.id]


async def test_resolved_waits_for_its_firing_notice_while_that_one_retries(store):
    hook = FakeNotifier(script=["retry", "retry"])
    box = outbox(store, team=[hook])
    await box.enqueue([notice("fire")], T0)
    await run(box, T0)  # first attempt fails
    await box.enqueue([notice("res", status="resolved")], T0 + 0.5)
    now = T0 + 0.5
    for _ in range(10):
        await run(box, now)
        now += 5.0
    assert hook.keys == ["fire", "res"]
    assert [n.key for n in hook.attempts] == ["fire", "fire", "fire", "res"]  # never res before fire


async def test_groups_are_independent_and_in_order_within_each(store):
    hook = FakeNotifier()
    box = outbox(store, team=[hook])
    await box.enqueue(
        [notice("a1", "A"), notice("b1", "B"), notice("a2", "A", "resolved"), notice("b2", "B", "resolved")],
        T0,
    )
    for step in range(4):
        await run(box, T0 + step)
    keys = hook.keys
    assert sorted(keys) == ["a1", "a2", "b1", "b2"]
    assert keys.index("a1") < keys.index("a2") and keys.index("b1") < keys.index("b2")


async def test_resolved_is_not_sent_where_the_firing_one_never_arrived(store):
    hook = FakeNotifier(script=["fail"])
    box = outbox(store, team=[hook])
    await box.enqueue([notice("fire"), notice("res", status="resolved")], T0)
    for step in range(3):
        await run(box, T0 + step)
    assert hook.delivered == []
    states = {r.key: r.state for r in store.outbox_entries()}
    assert states == {"fire": "dead", "res": "skipped"}
    # re-queueing the dead firing notice now would tell the receiver something stale
    fire = store.outbox_entries(key="fire")[0]
    refused = (await box.requeue([fire.id], T0 + 10)).refused
    assert "superseded" in refused[fire.id]


async def test_resolved_follows_firing_across_a_restart(store):
    hook = FakeNotifier()
    box = outbox(store, team=[hook])
    await box.enqueue([notice("fire")], T0)
    await run(box, T0)
    await box.tick(T0 + 1)
    await box.close()
    box2 = outbox(store, team=[hook])  # a new process: what it was told is in the store
    await box2.enqueue([notice("res", status="resolved")], T0 + 60)
    await run(box2, T0 + 60)
    assert hook.keys == ["fire", "res"]


async def test_send_resolved_false_gets_no_resolved_notice(store):
    slack, hook = FakeNotifier("slack", send_resolved=False), FakeNotifier("webhook")
    box = outbox(store, team=[slack, hook])
    await box.enqueue([notice("fire")], T0)
    result = await box.enqueue([notice("res", status="resolved")], T0)
    assert result.not_wanted == 1 and result.added == 1
    for step in range(3):
        await run(box, T0 + step)
    assert slack.keys == ["fire"] and hook.keys == ["fire", "res"]
    assert {(r.key, r.integration) for r in store.outbox_entries()} == {
        ("fire", "slack[0]"),
        ("fire", "webhook[0]"),
        ("res", "webhook[0]"),
    }


async def test_a_receiver_without_integrations_takes_notices_and_sends_nothing(store):
    box = outbox(store, blackhole=[])
    result = await box.enqueue([notice("k1", receiver="blackhole")], T0)
    assert (result.added, result.not_wanted, result.unknown_receiver) == (0, 1, 0)
    assert store.outbox_entries() == []


async def test_a_notice_for_an_unknown_receiver_is_a_dead_letter_not_lost(store):
    box = outbox(store, team=[FakeNotifier()])
    result = await box.enqueue([notice("k1", receiver="nobody")], T0)
    assert result.unknown_receiver == 1
    [dead] = store.outbox_entries(state="dead")
    assert dead.receiver == "nobody" and "no receiver named 'nobody'" in dead.last_error


async def test_the_breaker_opens_holds_notices_and_half_opens(store):
    policy = OutboxPolicy(
        RetryPolicy(1.0, 2.0, 100, 86400.0), BreakerPolicy(0.5, 60.0, 5, 60.0, 3), max_in_flight=1
    )
    hook = FakeNotifier(default="retry")
    box = outbox(store, policy, team=[hook])
    await box.enqueue([notice(f"k{i}", f"G{i}") for i in range(10)], T0)
    now = T0
    while box.breakers(now)[0]["state"] != "open":
        await run(box, now)
        now += 0.5
        assert now < T0 + 30
    opened = now
    tried = len(hook.attempts)
    assert tried == 5  # opened at 5 calls, all failed
    for _ in range(20):  # open for 60 s: nothing is tried
        await run(box, now)
        now += 2.5
        if now >= opened + 59:
            break
    assert len(hook.attempts) == tried
    hook.recover()
    now = opened + 61
    for _ in range(10):
        await run(box, now)
        now += 1
    snap = box.breakers(now)[0]
    assert snap["state"] == "closed" and snap["opened_count"] == 1
    assert sorted(hook.keys) == sorted(f"k{i}" for i in range(10))


async def test_concurrency_is_bounded_in_all_and_per_endpoint(store):
    policy = OutboxPolicy(FAST.retry, FAST.breaker, max_in_flight=5, max_in_flight_per_endpoint=3)
    a, b = FakeNotifier(), FakeNotifier()
    import asyncio

    a.hold = b.hold = asyncio.Event()
    box = outbox(store, policy, ra=[a], rb=[b])
    await box.enqueue(
        [notice(f"a{i}", f"G{i}", receiver="ra") for i in range(10)]
        + [notice(f"b{i}", f"G{i}", receiver="rb") for i in range(10)],
        T0,
    )
    await box.tick(T0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(a.attempts) <= 3 and len(b.attempts) <= 3 and len(a.attempts) + len(b.attempts) == 5
    assert box.snapshot(T0)["in_flight"] == 5
    a.hold.set()
    await box.idle()
    assert len(a.keys) == 10 and len(b.keys) == 10  # between ticks, each finished one starts the next


async def test_many_notices_need_only_one_tick(store):
    hook = FakeNotifier()
    box = outbox(store, team=[hook])
    await box.enqueue([notice(f"k{i}", f"G{i % 7}") for i in range(200)], T0)
    await run(box, T0)
    assert len(hook.keys) == 200


@pytest.mark.parametrize("reopen", [False, True])
async def test_a_crash_mid_send_resends_only_what_was_in_flight_with_the_same_key(store, store_url, reopen):
    import asyncio

    from vigil.store import open_store

    hook = FakeNotifier()
    box = outbox(store, team=[hook])
    await box.enqueue([notice(f"k{i}", f"G{i}") for i in range(6)], T0)
    await run(box, T0)
    acknowledged = list(hook.keys)
    assert len(acknowledged) == 6
    await box.tick(T0 + 1)
    # three more notices; the receiver holds them in flight, then vigil dies (the object is dropped
    # without close: nothing more is written)
    hook.hold = asyncio.Event()
    await box.enqueue(
        [notice(f"n{i}", f"H{i}") for i in range(3)] + [notice("late", "H0", "resolved")], T0 + 2
    )
    await box.tick(T0 + 2)
    await asyncio.sleep(0)
    in_flight = [n.key for n in hook.attempts[6:]]
    assert sorted(in_flight) == ["n0", "n1", "n2"]
    assert {r.key for r in store.outbox_entries(state="sending")} == set(in_flight)
    for task in list(box._tasks):  # the process is gone
        task.cancel()
    del box
    s2 = open_store(store_url) if reopen else store
    try:
        after = FakeNotifier()
        box2 = outbox(s2, team=[after])
        out = await run(box2, T0 + 30)
        assert sorted(o.key for o in out if o.state == "recovered") == ["n0", "n1", "n2"]
        await run(box2, T0 + 31)
        await box2.tick(T0 + 32)
        assert sorted(after.keys) == ["late", "n0", "n1", "n2"]  # nothing acknowledged is sent again
        assert after.keys.index("n0") < after.keys.index("late")  # and resolved still follows firing
        assert all(r.state == "delivered" for r in s2.outbox_entries())
    finally:
        if reopen:
            s2.close()


async def test_a_store_that_refuses_writes_delays_sending_and_loses_nothing(store):
    class Flaky(InlineWriter):
        down = True

        async def call(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self.down and fn.__name__ in ("outbox_add", "outbox_update"):
                raise OSError("database is restarting")
            return fn(*args, **kwargs)

    hook = FakeNotifier()
    writer = Flaky()
    box = Outbox(store, writer, {"team": [hook]}, FAST, rng=random.Random(1))
    result = await box.enqueue([notice("k1")], T0)
    assert result.deferred == 1 and store.outbox_entries() == []
    await run(box, T0 + 1)
    assert hook.attempts == []  # never sent before it is written
    writer.down = False
    await run(box, T0 + 2)
    await box.tick(T0 + 3)
    assert hook.keys == ["k1"] and store.outbox_entries()[0].state == "delivered"


async def test_rows_of_an_integration_no_longer_configured_become_dead_letters(store):
    await outbox(store, team=[FakeNotifier()]).enqueue([notice("k1")], T0)
    box = outbox(store, other=[FakeNotifier()])  # restarted with another configuration
    out = await run(box, T0 + 1)
    assert [o.state for o in out] == ["dead"]
    [dead] = store.outbox_entries(state="dead")
    assert "no integration webhook[0] any more" in dead.last_error


async def test_finished_rows_are_pruned_after_keep_finished(store):
    policy = OutboxPolicy(FAST.retry, FAST.breaker, keep_finished=3600.0)
    box = outbox(store, policy, team=[FakeNotifier()])
    await box.enqueue([notice("k1")], T0)
    await run(box, T0)
    await box.tick(T0 + 1)
    assert len(store.outbox_entries()) == 1
    await box.tick(T0 + 2 * 3600)
    assert store.outbox_entries() == []
