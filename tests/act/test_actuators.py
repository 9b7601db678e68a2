"""Actuators against real things: local processes on a shared port, a fake Kubernetes API served by a
real local HTTP server, a webhook receiver, a real command. Central retry and verification."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.act.fakes import FakeKubeApi, WebhookReceiver
from vigil.act.actuators import ACTUATORS, ActuationError, build_actuator, execute_scale
from vigil.act.actuators.memory import MemoryActuator
from vigil.clock import SystemClock
from vigil.config.scaling import (
    CommandActuatorConfig,
    KubernetesActuatorConfig,
    ProcessActuatorConfig,
    WebhookActuatorConfig,
)
from vigil.testing import FakeClock

CLOCK = SystemClock()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_registry_kinds() -> None:
    assert ACTUATORS.kinds() == ["command", "kubernetes", "memory", "process", "webhook"]


# ------------------------------------------------------------------ central retry and verification

async def test_execute_scale_retries_retryable_then_verifies() -> None:
    clock = FakeClock()
    act = MemoryActuator(replicas=2, ready_after=3,
                         failures=[ActuationError("503", retryable=True), ActuationError("503", True)])
    task = asyncio.create_task(execute_scale(act, 5, clock, backoff=1.0, poll=1.0))
    await clock.advance(30)
    out = await task
    assert out.ok and out.status == "succeeded" and out.attempts == 3 and out.ready == 5
    assert act.calls == [5]


async def test_execute_scale_stops_on_non_retryable() -> None:
    act = MemoryActuator(replicas=2, failures=[ActuationError("403 forbidden", retryable=False)])
    out = await execute_scale(act, 5, FakeClock())
    assert not out.ok and out.status == "failed" and out.attempts == 1 and "not retryable" in out.detail
    assert act.calls == []


async def test_execute_scale_unverified_when_replicas_never_ready() -> None:
    clock = FakeClock()
    act = MemoryActuator(replicas=2, ready_after=10**6)
    task = asyncio.create_task(execute_scale(act, 4, clock, verify_timeout=5, poll=1))
    await clock.advance(10)
    out = await task
    assert not out.ok and out.status == "unverified" and out.ready == 2


async def test_dry_run_and_idempotency_memory() -> None:
    act = MemoryActuator(replicas=3)
    out = await execute_scale(act, 6, FakeClock(), dry_run=True)
    assert out.status == "dry_run" and act.replicas == 3 and act.calls == []
    r = await act.scale(3)
    assert not r.changed and act.calls == []


# ------------------------------------------------------------------ process

def _get_pid(port: int) -> int:
    with httpx.Client(timeout=2.0) as c:
        return int(c.get(f"http://127.0.0.1:{port}/", headers={"Connection": "close"}).json()["pid"])


def _workers(port: int) -> Any:
    """A process actuator running demo_worker replicas on `port`."""
    cfg = ProcessActuatorConfig(kind="process", port=port, ready_line="ready", stop_timeout=5,
                                command=[sys.executable, "-m", "vigil.act.actuators.demo_worker",
                                         "--port", "{port}"])
    return build_actuator(cfg, "web")


@pytest.mark.timeout(60)
async def test_process_replicas_share_a_port_and_stop_gracefully() -> None:
    port = _free_port()
    act = _workers(port)
    try:
        out = await execute_scale(act, 3, CLOCK, verify_timeout=20, poll=0.05)
        assert out.ok, out
        pids = set(act.pids())
        assert len(pids) == 3
        seen = set()
        for _ in range(60):
            seen.add(await asyncio.to_thread(_get_pid, port))
            if len(seen) >= 2:
                break
        assert seen <= pids and len(seen) >= 2  # the kernel spread connections over replicas

        again = await act.scale(3)  # idempotent
        assert not again.changed and set(act.pids()) == pids
        dry = await act.scale(5, dry_run=True)
        assert dry.dry_run and not dry.changed and set(act.pids()) == pids

        procs = list(act._replicas)
        out = await execute_scale(act, 1, CLOCK, verify_timeout=10, poll=0.05)
        assert out.ok and await act.ready_replicas() == 1
        assert [p.proc.returncode for p in procs[1:]] == [0, 0]  # SIGTERM handled: clean exit
        assert await asyncio.to_thread(_get_pid, port) == procs[0].proc.pid
    finally:
        await act.close()
    assert act.pids() == []


@pytest.mark.timeout(60)
async def test_process_replaces_a_replica_that_exits_on_its_own() -> None:
    """As a ReplicaSet would: the count asked for stands, a dead replica is started again."""
    act = _workers(_free_port())
    try:
        assert (await execute_scale(act, 2, CLOCK, verify_timeout=20, poll=0.05)).ok
        victim = act.pids()[0]
        os.kill(victim, signal.SIGKILL)
        for _ in range(100):
            if victim not in act.pids() and await act.ready_replicas() == 1:
                break
            await asyncio.sleep(0.05)
        assert await act.ready_replicas() == 1 and await act.requested_replicas() == 2
        for _ in range(200):  # replaced after about 1 s (RESTART_BACKOFF_S)
            if await act.ready_replicas() == 2:
                break
            await asyncio.sleep(0.05)
        assert await act.ready_replicas() == 2 and act.restarts == 1 and victim not in act.pids()
        assert (await act.scale(2)).changed is False  # nothing to do: the count asked for holds
    finally:
        await act.close()
    assert act.pids() == []


async def test_process_missing_binary_is_not_retryable() -> None:
    act = build_actuator(ProcessActuatorConfig(kind="process", command=["/nonexistent/vigil-worker"]))
    with pytest.raises(ActuationError) as err:
        await act.scale(1)
    assert not err.value.retryable


# ------------------------------------------------------------------ kubernetes (fake API server)

def _kubeconfig(tmp_path: Path, url: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}]}))
    return str(path)


@pytest.mark.timeout(60)
async def test_kubernetes_scale_subresource(tmp_path: Path) -> None:
    with FakeKubeApi(ready_after=2) as api:
        api.add("web", 2)
        api.add("db", 1, plural="statefulsets")
        cfg = KubernetesActuatorConfig(kind="kubernetes", name="web",
                                       kubeconfig=_kubeconfig(tmp_path, api.url))
        act = build_actuator(cfg, "web")
        out = await execute_scale(act, 2, CLOCK, poll=0.01)  # already there: no patch
        assert out.ok and not any(m == "PATCH" for m, _ in api.requests)
        dry = await execute_scale(act, 7, CLOCK, dry_run=True)
        assert dry.status == "dry_run" and api.workloads[("default", "deployments", "web")]["replicas"] == 2
        assert any("dryRun=All" in p for m, p in api.requests if m == "PATCH")
        out = await execute_scale(act, 5, CLOCK, poll=0.01, verify_timeout=5)
        assert out.ok and out.before == 2 and out.ready == 5
        assert api.workloads[("default", "deployments", "web")]["replicas"] == 5

        api.fail = [503]
        out = await execute_scale(act, 4, CLOCK, backoff=0.01, poll=0.01, verify_timeout=5)
        assert out.ok and out.attempts == 2
        api.fail = [403]
        out = await execute_scale(act, 3, CLOCK, backoff=0.01)
        assert not out.ok and out.attempts == 1 and "403" in out.detail

        sts = build_actuator(cfg.model_copy(update={"name": "db", "target": "StatefulSet"}), "db")
        out = await execute_scale(sts, 3, CLOCK, poll=0.01, verify_timeout=5)
        assert out.ok and api.workloads[("default", "statefulsets", "db")]["ready"] == 3
        act.close()
        sts.close()


# ------------------------------------------------------------------ webhook

@pytest.mark.timeout(30)
async def test_webhook_success_retryable_and_not() -> None:
    with WebhookReceiver() as rx:
        cfg = WebhookActuatorConfig(kind="webhook", url=rx.url + "/services/{service}/scale",
                                    body='{"replicas": {replicas}, "service": "{service}"}',
                                    status_url=rx.url + "/status", ready_field="service.ready_replicas",
                                    headers={"Authorization": "Bearer s3cret"})
        act = build_actuator(cfg, "api")
        out = await execute_scale(act, 4, CLOCK, poll=0.01)
        assert out.ok and out.ready == 4
        assert rx.bodies[-1] == ("POST", "/services/api/scale", '{"replicas": 4, "service": "api"}')
        assert not (await act.scale(4)).changed  # idempotent: nothing sent
        assert len(rx.bodies) == 1
        assert (await act.scale(9, dry_run=True)).dry_run and rx.replicas == 4

        rx.statuses = [503]
        with pytest.raises(ActuationError) as err:
            await act.scale(6)
        assert err.value.retryable
        rx.statuses = [422]
        with pytest.raises(ActuationError) as err:
            await act.scale(6)
        assert not err.value.retryable and "s3cret" not in str(err.value)
        rx.statuses = [502, 500]
        out = await execute_scale(act, 6, CLOCK, backoff=0.01, poll=0.01)
        assert out.ok and out.attempts == 3 and rx.replicas == 6


# ------------------------------------------------------------------ command

@pytest.mark.timeout(30)
async def test_command_actuator_real_command(tmp_path: Path) -> None:
    state = tmp_path / "replicas"
    cfg = CommandActuatorConfig(kind="command", status_command=["cat", str(state)],
                                command=["sh", "-c", 'echo "$1" > "$2"', "sh", "{replicas}", str(state)])
    state.write_text("1\n")
    act = build_actuator(cfg, "batch")
    out = await execute_scale(act, 3, CLOCK, poll=0.01)
    assert out.ok and out.before == 1 and state.read_text().strip() == "3"
    assert not (await act.scale(3)).changed
    assert (await act.scale(8, dry_run=True)).dry_run and state.read_text().strip() == "3"

    temp = build_actuator(CommandActuatorConfig(kind="command", command=["sh", "-c", "exit 75"]), "x")
    with pytest.raises(ActuationError) as err:
        await temp.scale(2)
    assert err.value.retryable
    hard = build_actuator(CommandActuatorConfig(kind="command", command=["sh", "-c", "exit 1"]), "x")
    with pytest.raises(ActuationError) as err:
        await hard.scale(2)
    assert not err.value.retryable
