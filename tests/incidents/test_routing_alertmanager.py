"""Differential tests against the real Alertmanager 0.25 (Debian package prometheus-alertmanager):
the same alertmanager.yml loaded into both, the same label sets asked of both.

- routing: `amtool config routes test` against vigil's route tree, for every label set;
- parsing: `amtool check-config` accepts exactly the matcher lines vigil accepts;
- grouping: a real Alertmanager, on a free loopback port with its own storage and no cluster,
  sends its webhooks to a loopback receiver here; the group keys, group labels and the order of
  the alerts in each must be vigil's."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from vigil.config import ConfigError, load_config
from vigil.incidents.dispatch import Dispatcher
from vigil.incidents.routing import build_route, receivers_for
from vigil.model import Alert, AlertStatus

pytestmark = pytest.mark.alertmanager

AMTOOL = shutil.which("amtool")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
needs_amtool = pytest.mark.skipif(AMTOOL is None,
                                  reason="amtool is not installed (Debian prometheus-alertmanager)")

TREE = """
route:
  receiver: default
  group_by: [alertname]
  routes:
  - match: {team: db}
    receiver: db
    group_by: [alertname, instance]
    routes:
    - matchers: ['severity="critical"', 'env!~"dev|test"']
      receiver: db-pager
    - match_re: {instance: "db-[0-9]+"}
      receiver: db-instances
      continue: true
    - matchers: [instance=~"db-1.*"]
      receiver: db-one
  - matchers: ['{severity=~"critical|page", team!="web"}']
    receiver: pager
    continue: true
    group_by: ['...']
  - matchers: [service=~"pay.*"]
    receiver: payments
    routes:
    - matchers: [region=""]
      receiver: payments-noregion
  - match: {team: web}
    receiver: web
    group_by: []
receivers:
- name: default
- name: db
- name: db-pager
- name: db-instances
- name: db-one
- name: pager
- name: payments
- name: payments-noregion
- name: web
"""

VALUES = {"team": ["db", "web", None], "severity": ["critical", "warning", None],
          "instance": ["db-1", "db-22", None], "service": ["payments", None], "env": ["dev", "prod", None],
          "region": ["eu", None]}


def label_sets() -> list[dict[str, str]]:
    keys = list(VALUES)
    out = []
    for combo in itertools.product(*(VALUES[k] for k in keys)):
        labels = {k: v for k, v in zip(keys, combo, strict=True) if v is not None}
        out.append({"alertname": "A", **labels})
    return out[::4]  # a spread of the 324 combinations: every value of every label appears


def vigil_root(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "am.yml").write_text(text)
    (tmp_path / "vigil.yaml").write_text("alerting:\n  alertmanager_config: am.yml\n")
    cfg = load_config(tmp_path / "vigil.yaml").alerting
    return build_route(cfg.route), cfg


@needs_amtool
def test_routes_test_answers_as_amtool(tmp_path: Path) -> None:
    root, _ = vigil_root(tmp_path, TREE)
    sets = label_sets()
    assert len(sets) == 81
    differ = []
    for labels in sets:
        args = [f"{k}={v}" for k, v in labels.items()]
        res = subprocess.run([AMTOOL, "config", "routes", "test", f"--config.file={tmp_path / 'am.yml'}",
                              *args], capture_output=True, text=True, timeout=30, check=False)
        theirs = res.stdout.strip().splitlines()[-1].split(",")
        ours = receivers_for(root, labels)
        if theirs != ours:
            differ.append((labels, theirs, ours))
    assert differ == []


MATCHER_LINES = ['a="b"', "a=b", 'a!~"x|y"', "{a=b, c!=d}", 'a=~"(b"', 'a="b', "a=", 'a=""', "a-b=c",
                 'a="x\\"y"', 'a=~".*"', "  a  =  b  ", 'a="b",', 'a=~"[[:alpha:]]+"', 'a=~"\\\\d+"',
                 'a=~"(?i)B"', 'a=~"x{2,}"', 'a=~"a**"']


@needs_amtool
@pytest.mark.parametrize("line", MATCHER_LINES)
def test_check_config_accepts_the_same_matchers(tmp_path: Path, line: str) -> None:
    text = ("route:\n  receiver: r\n  routes:\n  - matchers: [" + orjson.dumps(line).decode() + "]\n"
            "receivers: [{name: r}]\n")
    (tmp_path / "am.yml").write_text(text)
    theirs = subprocess.run([AMTOOL, "check-config", str(tmp_path / "am.yml")], capture_output=True,
                            timeout=30, check=False).returncode == 0
    (tmp_path / "vigil.yaml").write_text("alerting:\n  alertmanager_config: am.yml\n")
    try:
        load_config(tmp_path / "vigil.yaml")
        ours = True
    except ConfigError:
        ours = False
    assert ours == theirs


# --------------------------------------------------------------------------------- the real server

GROUPS = """
route:
  receiver: hook
  group_by: [alertname, a, a1, a_b]
  group_wait: 1s
  group_interval: 1h
  routes:
  - match_re: {kind: "qu.*"}
    receiver: hook
    group_by: ['...']
  - matchers: [kind="plain"]
    receiver: hook
receivers:
- name: hook
  webhook_configs:
  - url: 'http://127.0.0.1:{port}/'
"""

ALERTS = [
    {"alertname": "Order", "kind": "plain", "job": "b", "instance": "i1"},
    {"alertname": "Order", "kind": "plain", "job": "a", "instance": "i2"},
    {"alertname": "Order", "kind": "plain", "instance": "i0"},
    {"alertname": "Order", "kind": "plain", "zz": "1"},
    {"alertname": "Order", "kind": "plain", "b": "1"},
    {"alertname": "Order", "kind": "plain", "b": "1", "c": "2"},
    {"alertname": "Order", "kind": "plain", "job": "a", "instance": "i1"},
    {"alertname": "Names", "a": "1", "a1": "2", "a_b": "3", "other": "x"},
    {"alertname": "Quote", "kind": "quoted", "v": 'say "hi"\tthere\\é'},
    {"alertname": "Quote", "kind": "quoted", "v": "line\nbreak"},
]


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append(orjson.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(ALERTMANAGER is None,
                    reason="Alertmanager is not installed (Debian prometheus-alertmanager)")
def test_group_keys_labels_and_alert_order_as_alertmanager_sends_them(tmp_path: Path) -> None:
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    text = GROUPS.replace("{port}", str(hook.server_address[1]))
    (tmp_path / "am.yml").write_text(text)
    port = _free_port()
    log = open(tmp_path / "alertmanager.log", "wb")
    proc = subprocess.Popen([str(ALERTMANAGER), f"--config.file={tmp_path / 'am.yml'}",
                             f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--cluster.listen-address="], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            alive = proc.poll() is None
            assert time.monotonic() < deadline and alive, (tmp_path / "alertmanager.log").read_text()
            time.sleep(0.1)
        body = orjson.dumps([{"labels": a} for a in ALERTS])
        req = urllib.request.Request(f"{base}/api/v2/alerts", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200
        root, cfg = vigil_root(tmp_path, text)
        now = time.time()
        d = Dispatcher(root)
        for a in ALERTS:
            d.add(Alert(a, AlertStatus.FIRING, now), now)
        ours = {n.group_key: n for n in d.flush_due(now + 1)}
        deadline = time.monotonic() + 20
        while len(_Hook.received) < len(ours) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        hook.shutdown()
        log.close()
    theirs = {w["groupKey"]: w for w in _Hook.received}
    assert sorted(theirs) == sorted(ours)
    for key, w in theirs.items():
        assert w["groupLabels"] == ours[key].group_labels
        assert [a["labels"] for a in w["alerts"]] == [a.labels for a in ours[key].alerts]
