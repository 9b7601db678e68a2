"""Receiver outages, end to end: the outbox on a real store delivering through real notifiers to real
receivers on loopback. Engine time moves only when the test says (ticks at chosen `now` values); real
time is spent only on the sockets."""

from __future__ import annotations

import asyncio
import random

from tests.notify.conftest import T0, notice
from tests.notify.receivers import HttpReceiver
from tests.notify.smtp import start_smtp
from vigil.breaker import BreakerPolicy
from vigil.config.receivers import EmailConfig, WebhookConfig
from vigil.notify.email import EmailNotifier
from vigil.notify.outbox import Outbox
from vigil.notify.policy import OutboxPolicy, RetryPolicy
from vigil.notify.webhook import WebhookNotifier
from vigil.testing import InlineWriter

POLICY = OutboxPolicy(
    RetryPolicy(initial_backoff=1.0, max_backoff=8.0, max_attempts=50, max_age=3600.0),
    BreakerPolicy(failure_ratio=0.5, window=60.0, min_calls=5, open_for=20.0, trial_calls=3),
)


def webhook_box(store, url: str, seed: int = 11) -> Outbox:  # type: ignore[no-untyped-def]
    hook = WebhookNotifier(WebhookConfig(url=f"{url}/alerts", timeout=5.0))
    return Outbox(store, InlineWriter(), {"team": [hook]}, POLICY, rng=random.Random(seed))


async def drive(box: Outbox, start: float, seconds: float, step: float = 1.0) -> list:
    """Tick every `step` seconds of engine time for `seconds`, letting each tick's attempts finish."""
    out, now = [], start
    while now <= start + seconds:
        out += await box.tick(now)
        await box.idle()
        now += step
    return out + await box.tick(now)


def firing_then_resolved(keys: list[str], groups: int) -> None:
    for g in range(groups):
        mine = [k for k in keys if k.startswith(f"g{g}-")]
        assert mine and mine[0] == f"g{g}-fire", mine
        assert keys.index(f"g{g}-fire") < keys.index(f"g{g}-res")


async def test_a_webhook_down_for_a_while_then_up_gets_every_notice_in_order(store, receiver):
    port = receiver.port
    await receiver.stop()  # the receiver is down before the first notice
    box = webhook_box(store, receiver.url)
    await box.enqueue([notice(f"g{g}-fire", f"G{g}") for g in range(8)], T0)
    out = await drive(box, T0, 10)
    await box.enqueue([notice(f"g{g}-res", f"G{g}", "resolved") for g in range(8)], T0 + 11)
    out += await drive(box, T0 + 11, 20)
    assert receiver.requests == []
    assert box.breakers(T0 + 31)[0]["opened_count"] >= 1  # the outage opened the breaker
    attempts = sum(1 for o in out if o.state == "retrying")
    assert attempts <= 20  # 5 to open it, then a few trials each time it half-opens: not one per notice
    assert {o.state for o in out} <= {"retrying"}  # nothing given up, nothing skipped
    back = HttpReceiver(port=port)
    await back.start()  # up again, on the same port
    try:
        out = await drive(box, T0 + 32, 120)
        keys = back.keys()
        assert set(keys) == {f"g{g}-{s}" for g in range(8) for s in ("fire", "res")}  # every notice arrived
        firing_then_resolved(keys, 8)
        assert len(keys) == len(set(keys))  # a refused connection delivers nothing: no duplicates
        assert all(r.state == "delivered" for r in store.outbox_entries(limit=100))
        assert box.breakers(T0 + 200)[0]["state"] == "closed"
        statuses = {b["status"] for b in back.bodies()}
        assert statuses == {"firing", "resolved"}
    finally:
        await box.close()
        await back.stop()


async def test_a_webhook_answering_503_then_200(store, receiver):
    receiver.answer(503, "maintenance", times=6)
    box = webhook_box(store, receiver.url)
    await box.enqueue([notice("g0-fire", "G0"), notice("g0-res", "G0", "resolved")], T0)
    out = await drive(box, T0, 90)
    assert [o.state for o in out if o.key == "g0-fire"].count("retrying") >= 1
    assert receiver.keys() == ["g0-fire", "g0-res"]
    assert len(receiver.keys(every=True)) >= 8  # 6 refusals, then the two
    await box.close()


async def test_smtp_refusing_then_accepting_and_a_dead_letter_requeued(store):
    server = start_smtp()
    try:
        cfg = EmailConfig(
            to="oncall@example.test",
            **{"from": "vigil@example.test"},
            smarthost=server.smarthost,
            require_tls=False,
            send_resolved=True,
        )
        box = Outbox(store, InlineWriter(), {"mail": [EmailNotifier(cfg)]}, POLICY, rng=random.Random(3))
        server.mailbox.refuse("451 4.7.1 greylisted, try again", times=3)
        await box.enqueue(
            [notice("fire", receiver="mail"), notice("res", status="resolved", receiver="mail")], T0
        )
        await drive(box, T0, 60)
        assert [m["X-Vigil-Key"] for m in server.mailbox.messages] == ["fire", "res"]
        server.mailbox.refuse("554 5.7.1 rejected by policy")
        await box.enqueue([notice("other", group="g2", receiver="mail")], T0 + 70)
        out = await drive(box, T0 + 70, 3)
        assert [o.state for o in out if o.key == "other"] == ["dead"]
        [dead] = store.outbox_entries(state="dead")
        assert "554" in dead.last_error
        assert (await box.requeue([dead.id], T0 + 80)).requeued == [dead.id]
        await drive(box, T0 + 80, 2)
        assert [m["X-Vigil-Key"] for m in server.mailbox.messages] == ["fire", "res", "other"]
        await box.close()
    finally:
        server.stop()


async def test_a_crash_in_the_middle_of_sending_to_a_real_webhook(store, store_url, receiver):
    """vigil dies while three notices are in flight (the receiver has them and has not answered): a new
    outbox over the same database sends those three again, with the same keys, and nothing else twice."""
    from vigil.store import open_store

    box = webhook_box(store, receiver.url)
    await box.enqueue([notice(f"g{g}-fire", f"G{g}") for g in range(5)], T0)
    await drive(box, T0, 2)
    acknowledged = set(receiver.keys())
    assert acknowledged == {f"g{g}-fire" for g in range(5)}
    receiver.hold = asyncio.Event()
    await box.enqueue([notice(f"g{g}-res", f"G{g}", "resolved") for g in range(3)], T0 + 5)
    await box.tick(T0 + 5)
    for _ in range(200):  # bounded: until the three requests reached the receiver
        if len(receiver.arrivals) == 8:
            break
        await asyncio.sleep(0.01)
    in_flight = {r.headers["Idempotency-Key"] for r in receiver.arrivals[5:]}
    assert in_flight == {"g0-res", "g1-res", "g2-res"}
    for task in list(box._tasks):  # the process dies: its connections drop, nothing more is written
        task.cancel()
    await asyncio.gather(*box._tasks, return_exceptions=True)
    for lane in box._order:  # and the system closes its sockets
        await lane.notifier.aclose()  # type: ignore[attr-defined]
    receiver.hold.set()  # the receiver finishes handling what it had
    await asyncio.sleep(0.05)
    second = open_store(store_url)
    try:
        box2 = webhook_box(second, receiver.url)
        out = await drive(box2, T0 + 60, 3)
        assert sorted(o.key for o in out if o.state == "recovered") == sorted(in_flight)
        every = receiver.keys(every=True)
        assert set(every) == acknowledged | in_flight  # nothing lost
        twice = {k for k in every if every.count(k) > 1}
        assert twice <= in_flight  # duplicates only of what was in flight at the crash
        assert all(r.state == "delivered" for r in second.outbox_entries())
        await box2.close()
    finally:
        second.close()
