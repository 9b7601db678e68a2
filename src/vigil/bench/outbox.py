"""Outbox throughput: notifications per second written to the store, sent and recorded through the
outbox to a real webhook receiver on loopback (a child process, so it does not share vigil's core),
with the production store writer thread. The baseline, in the same run, is the same webhook notifier
POSTing the same notices directly with the same concurrency and no outbox: the ratio is what
durability costs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from vigil.config.receivers import WebhookConfig
from vigil.model import Alert, AlertStatus, Notice
from vigil.notify.outbox import Outbox
from vigil.notify.policy import OutboxPolicy
from vigil.notify.webhook import WebhookNotifier

# The receiver: accepts every POST, noting when it came and the alertnames it named; GET /count, and
# GET /log?since=N for the entries from the N-th on. Started with `python -c`.
_RECEIVER = """
import asyncio, time, orjson
from aiohttp import web
log = []
async def post(request):
    body = await request.read()
    at = time.time()
    try:
        names = sorted({a.get("labels", {}).get("alertname", "") for a in orjson.loads(body).get("alerts", [])})
    except Exception:
        names = []
    log.append([at, names])
    return web.Response(text="ok")
async def count(request):
    return web.Response(text=str(len(log)))
async def get_log(request):
    since = int(request.query.get("since", "0"))
    return web.Response(body=orjson.dumps({"n": len(log), "log": log[since:]}), content_type="application/json")
app = web.Application(client_max_size=64 * 2**20)
app.router.add_post("/{tail:.*}", post)
app.router.add_get("/count", count)
app.router.add_get("/log", get_log)
async def main():
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_receiver() -> tuple[subprocess.Popen[str], str]:
    """The loopback webhook receiver in a child process: (process, its base URL)."""
    proc = subprocess.Popen([sys.executable, "-c", _RECEIVER], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, f"http://127.0.0.1:{int(proc.stdout.readline())}"


def _notices(n: int, prefix: str, now: float) -> list[Notice]:
    out = []
    for i in range(n):
        labels = {"alertname": "BenchAlert", "service": f"svc{i % 50}", "severity": "warning", "i": str(i)}
        alert = Alert(labels, AlertStatus.FIRING, now - 60, None, {"summary": "bench"}, "bench")
        out.append(Notice(f"{prefix}-{i}", "bench", f'{{}}:{{i="{i}"}}', AlertStatus.FIRING, [alert], now,
                          {"i": str(i)}))
    return out


async def _direct(url: str, notices: list[Notice], concurrency: int) -> float:
    hook = WebhookNotifier(WebhookConfig.model_validate({"url": url}))
    gate = asyncio.Semaphore(concurrency)

    async def one(n: Notice) -> None:
        async with gate:
            d = await hook.send(n)
            if not d.ok:
                raise RuntimeError(f"bench receiver refused: {d.detail}")

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in notices))
    elapsed = time.perf_counter() - started
    await hook.aclose()
    return elapsed


async def _through_outbox(url: str, store_url: str, notices: list[Notice], concurrency: int,
                          batch: int) -> float:
    from vigil.store import open_store
    from vigil.writer import StoreWriter

    store = open_store(store_url)
    writer = StoreWriter()
    hook = WebhookNotifier(WebhookConfig.model_validate({"url": url}))
    policy = OutboxPolicy(max_in_flight=concurrency, max_in_flight_per_endpoint=concurrency)
    box = Outbox(store, writer, {"bench": [hook]}, policy)
    try:
        await box.start(time.time())
        delivered = 0
        started = time.perf_counter()
        for i in range(0, len(notices), batch):  # as the engine's passes hand them over
            await box.enqueue(notices[i:i + batch], time.time())
            delivered += _count(await box.tick(time.time()))
        while delivered < len(notices):
            await box.idle()
            got = _count(await box.tick(time.time()))
            if got == 0 and box.snapshot(time.time())["in_flight"] == 0:
                raise RuntimeError(f"outbox stalled at {delivered} of {len(notices)} delivered")
            delivered += got
        elapsed = time.perf_counter() - started
        await box.close()
    finally:
        writer.close()
        store.close()
    return elapsed


def _count(outcomes: list[Any]) -> int:
    bad = [o for o in outcomes if o.state in ("dead", "retrying")]
    if bad:
        raise RuntimeError(f"bench delivery failed: {bad[0].detail}")
    return sum(1 for o in outcomes if o.state == "delivered")


def measure(n: int = 5000, store_url: str | None = None, concurrency: int = 8,
            batch: int = 500) -> dict[str, Any]:
    """Deliver `n` notices through the outbox (SQLite in a temporary folder unless `store_url`) and
    directly, to a webhook receiver in a child process; figures for `vigil bench incidents`."""
    proc, base = start_receiver()
    try:
        url = f"{base}/hook"
        with tempfile.TemporaryDirectory() as tmp:
            db = store_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
            now = time.time()
            direct_s = asyncio.run(_direct(url, _notices(n, "direct", now), concurrency))
            cpu0 = time.process_time()  # this process, every thread (the receiver is a child of its own)
            outbox_s = asyncio.run(_through_outbox(url, db, _notices(n, "outbox", now), concurrency, batch))
            outbox_cpu = time.process_time() - cpu0
        received = int(httpx.get(f"{base}/count", timeout=5).text)
        if received < 2 * n:
            raise RuntimeError(f"the receiver got {received} of {2 * n} notifications")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"notifications": n, "concurrency": concurrency, "store": "sqlite" if store_url is None else
            store_url.split(":", 1)[0], "outbox_seconds": round(outbox_s, 3),
            "outbox_notifications_per_s": round(n / outbox_s, 1), "outbox_cpu_seconds": round(outbox_cpu, 3),
            "outbox_notifications_per_cpu_s": round(n / outbox_cpu, 1) if outbox_cpu > 0 else None,
            "direct_notifications_per_s": round(n / direct_s, 1),
            "ratio_to_direct": round(direct_s / outbox_s, 3)}
