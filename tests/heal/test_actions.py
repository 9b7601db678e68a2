"""Built-in actions against real parts: the kubernetes actuator's rollout restart against the in-process
fake of the API (no cluster can run here), http and command steps against a real loopback server and a
real process, secrets kept out of what a step reports."""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.act.fakes import FakeKubeApi
from tests.act.test_actuators import _kubeconfig
from vigil.act.actuators import build_actuator
from vigil.config.scaling import KubernetesActuatorConfig
from vigil.heal.actions import ActionContext, run_step
from vigil.heal.actions.params import CommandParams, HttpParams, MaintenanceParams, NotifyParams, RestartParams
from vigil.heal.windows import MaintenanceBook
from vigil.model import Health
from vigil.testing import FakeClock, InlineWriter, MemoryActionStore, MemoryTeller


def ctx(actuator: Any = None, service: str = "web") -> ActionContext:
    return ActionContext(service, FakeClock(), actuator, lambda s: Health.HEALTHY, lambda s: None, 50.0,
                         MaintenanceBook(None, None))


@pytest.mark.timeout(60)
async def test_a_kubernetes_restart_is_a_rollout_restart_of_the_pod_template(tmp_path: Path) -> None:
    with FakeKubeApi() as api:
        api.add("web", 3)
        act = build_actuator(KubernetesActuatorConfig(kind="kubernetes", name="web",
                                                      kubeconfig=_kubeconfig(tmp_path, api.url)), "web")
        out = await run_step(RestartParams(action="restart"), ctx(act))
        await act.close()
    assert out.ok, out.detail
    [patch] = api.patches
    assert "kubectl.kubernetes.io/restartedAt" in patch["spec"]["template"]["metadata"]["annotations"]


class _Endpoint(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        self.seen.append((self.path, self.headers.get("Authorization", ""), body))
        self.send_response(204 if self.path.startswith("/web/") else 500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Endpoint.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_an_http_step_calls_the_service_endpoint_and_keeps_its_secret(endpoint: str) -> None:
    step = HttpParams.model_validate({"action": "http", "url": endpoint + "/{service}/cache/clear",
                                      "json": {"all": True}, "headers": {"Authorization": "Bearer s3cret-token"}})
    out = await run_step(step, ctx())
    assert out.ok and out.result["status_code"] == 204
    assert _Endpoint.seen == [("/web/cache/clear", "Bearer s3cret-token", '{"all":true}')]
    bad = await run_step(step.model_copy(update={"url": endpoint + "/other?token=abc"}), ctx())
    assert not bad.ok and "500" in bad.detail
    assert "s3cret" not in out.detail + bad.detail and "token=abc" not in bad.detail


async def test_a_command_step_fails_on_a_nonzero_exit() -> None:
    ok = await run_step(CommandParams(action="command", argv=[sys.executable, "-c", "print('hi {service}')"]), ctx())
    assert ok.ok and "hi web" in ok.detail  # {service} in argv is the service acted on
    bad = await run_step(CommandParams(action="command", argv=[sys.executable, "-c", "raise SystemExit(3)"]), ctx())
    assert not bad.ok and bad.result["exit_status"] == 3


async def test_a_notify_step_tells_through_its_teller_or_only_notes_without_one() -> None:
    teller = MemoryTeller(routed=["team", "ops"])
    c = ctx()
    c.action_id, c.step, c.incident, c.tell = 7, "steps[1]", 3, teller
    out = await run_step(NotifyParams(action="notify", message="restarted {service}"), c)
    assert out.ok and out.result["receivers"] == ["team", "ops"] and out.result["added"] == 2
    assert teller.told == [(7, "steps[1]", "restarted web", "team"), (7, "steps[1]", "restarted web", "ops")]
    assert c.notes[-1][0] == 3 and c.notes[-1][2] == "restarted web"  # and a line for the incident's timeline
    alone = ctx()
    out = await run_step(NotifyParams(action="notify", message="hello"), alone)
    assert out.ok and "no outbox" in out.detail and alone.notes[-1][2] == "hello"


async def test_a_maintenance_step_writes_its_window_before_it_reports_it() -> None:
    store = MemoryActionStore()
    c = ctx()
    c.maintenance = MaintenanceBook(store, InlineWriter())
    c.action_id, c.runbook, c.step = 4, "quiet", "steps[0]"
    out = await run_step(MaintenanceParams(action="maintenance", state="open", duration=600), c)
    [w] = store.maintenance_windows()
    assert out.ok and (w.service, w.ends_at - w.starts_at, w.opened_by) == ("web", 600.0, "action:4 (quiet)")
    assert c.maintenance.ends_at("web") == w.ends_at
    out = await run_step(MaintenanceParams(action="maintenance", state="close"), c)
    assert out.ok and "closed" in out.detail and store.maintenance_windows() == []
    again = await run_step(MaintenanceParams(action="maintenance", state="close"), c)
    assert again.ok and "no maintenance window was open" in again.detail
