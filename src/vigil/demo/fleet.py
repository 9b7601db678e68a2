"""The demo fleet: the shop's three services and the load generator, as child processes on free
loopback ports, and a vigil config that watches them.

With `scaling=StorefrontScaling()` storefront is not started here: the fleet reserves its port and
the config tells vigil to run it as replicas through the `process` actuator (see autoscale.py and
replicas.py); `start_load()` then waits for it.

No process is ever left behind: each child leads its own process group, which `stop()` sends
SIGTERM and then SIGKILL after a grace period; `stop()` also runs on SIGTERM and at interpreter
exit, and each child exits by itself if the launcher disappears without cleaning up. storefront's
replicas are vigil's to stop; any still running at `stop()` are stopped too."""

from __future__ import annotations

import atexit
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from vigil.config import parse_config
from vigil.demo.autoscale import StorefrontScaling
from vigil.demo.replicas import MULTIPROC_ENV
from vigil.demo.shop import DEPENDS_ON

HOST = "127.0.0.1"
START_ORDER = ("catalog", "payments", "storefront")  # dependencies first: storefront needs their URLs
SCALED = "storefront"  # the service vigil scales when the fleet is given a scaling policy
DESCRIPTIONS = {
    "storefront": "the shop's front door: pages and checkout",
    "catalog": "product listing",
    "payments": "charges cards",
}


class FleetError(RuntimeError):
    """The fleet could not start; the message says which service and shows its log's tail."""


@dataclass
class FleetMember:
    """One running service of the fleet (`process` is None for replicas run by vigil)."""

    name: str
    url: str
    process: subprocess.Popen[bytes] | None
    log_path: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def health_url(self) -> str:
        return self.url + "/health"

    @property
    def metrics_url(self) -> str:
        return self.url + "/metrics"

    @property
    def admin_url(self) -> str:
        return self.url + "/admin/fault"

    def running(self) -> bool:
        return self.process is None or self.process.poll() is None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _get_status(url: str, timeout: float) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


class Fleet:
    """`with Fleet() as fleet:` starts catalog, payments, storefront and (if `load`) the load
    generator; `fleet.services[name]` has each one's URLs."""

    def __init__(self, workdir: str | Path | None = None, *, load: bool = True, day_seconds: float = 600.0,
                 peak_rps: float = 50.0, start_hour: float = 6.0, leak_cap_mb: float = 128.0,
                 seed: int | None = None, start_timeout_s: float = 20.0, grace_s: float = 3.0,
                 scaling: StorefrontScaling | None = None) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="vigil-demo-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.with_load = load
        self.day_seconds = day_seconds
        self.peak_rps = peak_rps
        self.start_hour = start_hour
        self.leak_cap_mb = leak_cap_mb
        self.seed = seed
        self.start_timeout_s = start_timeout_s
        self.grace_s = grace_s
        self.scaling = scaling
        self._port_hold: socket.socket | None = None  # keeps storefront's port ours while it has no replica
        self.services: dict[str, FleetMember] = {}
        self.load: subprocess.Popen[bytes] | None = None
        self.load_log = self.workdir / "load.log"
        self._lock = threading.RLock()  # stop() calls stop_load()
        self._previous_sigterm: Any = None
        self._started = False
        self._load_stats: dict[str, Any] | None = None
        self.load_started_at: float | None = None  # time.monotonic(): the simulated day's clock

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> "Fleet":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "Fleet":
        """Start every service, wait until each `/health` answers 200, then start the load."""
        if self._started:
            return self
        self._started = True
        atexit.register(self.stop)
        self._install_sigterm()
        try:
            deadline = time.monotonic() + self.start_timeout_s
            for name in START_ORDER:
                if name == SCALED and self.scaling is not None:
                    self.services[name] = self._reserve(name)
                    continue
                deps = {d: self.services[d].url for d in DEPENDS_ON[name]}
                self.services[name] = self._spawn_service(name, deps, deadline=deadline)
            for member in self.services.values():
                if member.process is not None:
                    self._wait_healthy(member, deadline)
            if self.with_load and self.scaling is None:
                self.start_load()
        except BaseException:
            self.stop()
            raise
        return self

    def start_load(self, timeout_s: float | None = None) -> None:
        """Start the load generator on storefront once it answers `/health` (with replicas run by
        vigil: once vigil started the first)."""
        if self.load is not None:
            return
        member = self.services[SCALED]
        self._wait_healthy(member, time.monotonic() + (timeout_s or self.start_timeout_s))
        self.load = self._spawn_load(member.url)
        self.load_started_at = time.monotonic()

    def stop_load(self) -> None:
        """Stop the traffic (first, so the services stop quietly)."""
        with self._lock:
            if self.load is not None:
                self._terminate([self.load])
                if self._load_stats is None:
                    self._load_stats = self._read_load_stats()

    def stop(self) -> None:
        """Terminate every child (SIGTERM to its group, SIGKILL after the grace period). Idempotent."""
        with self._lock:
            self.stop_load()  # the traffic first, its figures read before the work folder goes
            self._terminate([m.process for m in self.services.values() if m.process is not None])
            self._stop_stray_replicas()
            if self._port_hold is not None:
                self._port_hold.close()
                self._port_hold = None
            atexit.unregister(self.stop)
            self._restore_sigterm()
            if self._own_workdir and not os.environ.get("VIGIL_DEMO_KEEP"):
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _terminate(self, procs: list[subprocess.Popen[bytes]]) -> None:
        for proc in procs:
            self._signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
        for proc in procs:
            proc.wait()

    def restart(self, name: str) -> FleetMember:
        """Start `name` again on its port (after a crash, say); dependants keep working URLs."""
        old = self.services[name]
        if old.process is None:
            raise FleetError(f"{name}'s replicas are run by vigil's process actuator, which replaces "
                             "a replica that exits")
        self._terminate([old.process])
        deps = {d: self.services[d].url for d in DEPENDS_ON[name]}
        deadline = time.monotonic() + self.start_timeout_s
        member = self._spawn_service(name, deps, port=old.port, deadline=deadline)
        self.services[name] = member
        self._wait_healthy(member, deadline)
        return member

    @property
    def urls(self) -> dict[str, str]:
        """Service name -> base URL."""
        return {n: m.url for n, m in self.services.items()}

    @property
    def admin_urls(self) -> dict[str, str]:
        """Service name -> fault admin URL (POST/GET/DELETE)."""
        return {n: m.admin_url for n, m in self.services.items()}

    def pids(self) -> list[int]:
        """Process ids of every child started (running or not)."""
        pids = [m.pid for m in self.services.values() if m.pid is not None]
        return pids + ([self.load.pid] if self.load is not None else [])

    def load_stats(self) -> dict[str, Any] | None:
        """The load generator's final counts (it prints them when it stops), once stopped."""
        if self._load_stats is not None or self.load is None or self.load.poll() is None:
            return self._load_stats
        return self._read_load_stats()

    def _read_load_stats(self) -> dict[str, Any] | None:
        for line in reversed(_tail(self.load_log, 5).splitlines()):
            if line.startswith("{"):
                try:
                    return dict(json.loads(line))
                except ValueError:
                    return None
        return None

    # -- storefront's replicas (run by vigil when the fleet has a scaling policy) -----------------
    @property
    def replica_dir(self) -> Path:
        """Where the replicas' metrics meet (PROMETHEUS_MULTIPROC_DIR)."""
        return self.workdir / f"{SCALED}-metrics"

    @property
    def fault_file(self) -> Path:
        """The replicas' shared faults: `POST /admin/fault` on any of them reaches all."""
        return self.workdir / f"{SCALED}-fault.json"

    def _reserve(self, name: str) -> FleetMember:
        # Bound with SO_REUSEPORT and never listening: the replicas can join the port, no other
        # program can take it, and no connection is ever queued on this socket.
        hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        hold.bind((HOST, 0))
        self._port_hold = hold
        shutil.rmtree(self.replica_dir, ignore_errors=True)
        self.replica_dir.mkdir(parents=True)
        self.fault_file.unlink(missing_ok=True)
        return FleetMember(name, f"http://{HOST}:{hold.getsockname()[1]}", None, self.workdir / f"{name}.log")

    def replica_command(self) -> list[str]:
        """argv of one storefront replica, `{port}` left for the actuator to fill in."""
        member = self.services[SCALED]
        argv = [sys.executable, "-m", "vigil.demo.service", "--name", SCALED, "--host", HOST,
                "--port", "{port}", "--reuse-port", "--fault-file", str(self.fault_file),
                "--log-file", str(member.log_path), "--leak-cap-mb", str(self.leak_cap_mb),
                "--parent-pid", str(os.getpid())]
        for dep in DEPENDS_ON[SCALED]:
            argv += ["--dependency", f"{dep}={self.services[dep].url}"]
        return argv + (["--seed", str(self.seed)] if self.seed is not None else [])

    def actuator_config(self) -> dict[str, Any]:
        member = self.services[SCALED]
        assert self.scaling is not None
        return {"kind": "process", "command": self.replica_command(), "port": member.port,
                "ready_line": f"listening {member.url}", "env": {MULTIPROC_ENV: str(self.replica_dir)},
                "ready_timeout": f"{self.scaling.ready_timeout_s:g}s",
                "stop_timeout": f"{self.scaling.stop_timeout_s:g}s"}

    def replica_pids(self) -> list[int]:
        """storefront replicas alive now that are children of this process (each writes its
        metrics files, named by pid, into the shared folder)."""
        pids = set()
        for path in self.replica_dir.glob("*_*.db") if self.replica_dir.is_dir() else []:
            tail = path.stem.rsplit("_", 1)[-1]
            if tail.isdigit() and _child_of_ours(int(tail)):
                pids.add(int(tail))
        return sorted(pids)

    def _stop_stray_replicas(self) -> None:
        """vigil stops the replicas it started; this is for an engine that could not."""
        if self.scaling is None:
            return
        strays = self.replica_pids()
        for pid in strays:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while strays and time.monotonic() < deadline:
            time.sleep(0.05)
            strays = [p for p in strays if _child_of_ours(p)]
        for pid in strays:
            _kill(pid, signal.SIGKILL)

    # -- children ------------------------------------------------------------------------------
    def _popen(self, argv: list[str], log_path: Path, stdout: int) -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as log:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=log,
                                    start_new_session=True)  # own process group, away from Ctrl-C

    def _spawn_service(self, name: str, deps: dict[str, str], *, deadline: float, port: int = 0) -> FleetMember:
        argv = [sys.executable, "-m", "vigil.demo.service", "--name", name, "--host", HOST,
                "--port", str(port), "--leak-cap-mb", str(self.leak_cap_mb), "--parent-pid", str(os.getpid())]
        for dep, url in deps.items():
            argv += ["--dependency", f"{dep}={url}"]
        if self.seed is not None:
            argv += ["--seed", str(self.seed)]
        log_path = self.workdir / f"{name}.log"
        proc = self._popen(argv, log_path, subprocess.PIPE)
        assert proc.stdout is not None
        try:
            line = self._first_line(proc, deadline)
        finally:
            proc.stdout.close()  # the service writes nothing more there
        if not line.startswith("listening http://"):
            self._signal_group(proc, signal.SIGKILL)
            proc.wait()
            raise FleetError(f"{name} did not start (exit status {proc.returncode}); "
                             f"its log {log_path}:\n{_tail(log_path)}")
        return FleetMember(name, line.split(" ", 1)[1].strip(), proc, log_path)

    @staticmethod
    def _first_line(proc: subprocess.Popen[bytes], deadline: float) -> str:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return ""
        return proc.stdout.readline().decode(errors="replace")

    def _wait_healthy(self, member: FleetMember, deadline: float) -> None:
        while True:
            if not member.running():
                status = member.process.returncode if member.process is not None else None
                raise FleetError(f"{member.name} exited with status {status}; "
                                 f"its log {member.log_path}:\n{_tail(member.log_path)}")
            if _get_status(member.health_url, timeout=1.0) == 200:
                return
            if time.monotonic() >= deadline:
                raise FleetError(f"{member.name} did not answer {member.health_url} with 200 in "
                                 f"{self.start_timeout_s:g}s; its log:\n{_tail(member.log_path)}")
            time.sleep(0.1)

    def _spawn_load(self, url: str) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "vigil.demo.load", "--url", url,
                "--day-seconds", str(self.day_seconds), "--peak-rps", str(self.peak_rps),
                "--start-hour", str(self.start_hour), "--parent-pid", str(os.getpid())]
        if self.seed is not None:
            argv += ["--seed", str(self.seed)]
        with open(self.load_log, "ab") as log:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True)

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        # Only while the child is unreaped is its pid (and so its group id) surely still ours.
        if proc.returncode is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    # -- SIGTERM: unwind normally, so `finally` blocks and stop() run -----------------------------
    def _install_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            self._previous_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)

    def _restore_sigterm(self) -> None:
        if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) is _exit_on_sigterm:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    # -- the vigil config that watches the fleet -------------------------------------------------
    def vigil_config(self, *, server_port: int = 8080, api_key: str | None = None,
                     store_url: str | None = None, probe_interval_s: float = 5.0,
                     probe_timeout_s: float = 2.0, scrape_interval_s: float = 5.0,
                     alerting: dict[str, Any] | None = None, runbooks: bool = False) -> str:
        """A vigil.yaml (validated) watching every service: an http probe on `/health`, a scrape
        of `/metrics`, and `depends_on` as the shop is wired; with a scaling policy, storefront's
        `scaling:` block, its replicas run by the `process` actuator; with `alerting`, where
        incidents are notified (the demo's sinks); with `runbooks`, the demo's self-healing."""
        if not self.services:
            raise FleetError("start the fleet first: the config needs the services' ports")
        data = watch_config(
            {name: m.url for name, m in self.services.items()},
            server_port=server_port, api_key=api_key or secrets.token_urlsafe(24),
            store_url=store_url or f"sqlite:///{self.workdir / 'vigil.db'}",
            probe_interval_s=probe_interval_s, probe_timeout_s=probe_timeout_s,
            scrape_interval_s=scrape_interval_s)
        if alerting is not None:
            data["alerting"] = alerting
        if runbooks:  # self-healing (demo/heal.py)
            from vigil.demo.heal import LATENCY_RULE, MEMORY_RULE, demo_runbooks

            data["runbooks"] = demo_runbooks(self.urls)
            for svc in data["services"]:
                svc["rules"] += [dict(MEMORY_RULE), dict(LATENCY_RULE)]
        if self.scaling is not None:
            svc = next(s for s in data["services"] if s["name"] == SCALED)
            svc["scaling"] = self.scaling.policy(day_seconds=self.day_seconds, peak_rps=self.peak_rps,
                                                 metric_lag_s=scrape_interval_s,
                                                 actuator=self.actuator_config())
        text = "# Generated by vigil demo: watches the demo fleet.\n" + yaml.safe_dump(data, sort_keys=False)
        parse_config(text, file="<demo config>", env={})
        return text


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _child_of_ours(pid: int) -> bool:
    """Alive (not a zombie) and a child of this process: safe to signal."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z" and int(fields[1]) == os.getpid()


def _kill(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# What an operator of these services would declare (rules do not learn: an outage that comes back
# fires again, where an anomaly detector damps an event it has just seen). The shop answers no 5xx when
# healthy, so errors at more than 0.1/s (one in a 10 s scrape) are a fault, until they stop; a failed
# scrape (`up` 0: the process does not answer) is a target down, from the first one.
RULES: list[dict[str, Any]] = [
    {"kind": "threshold", "name": "server-errors", "series": "http_request_errors_total:rate",
     "above": 0.1, "clear": 0, "for": "0s", "severity": "critical"},
    {"kind": "threshold", "name": "target-down", "series": "up", "below": 1, "for": "0s",
     "severity": "critical"},
]


def watch_config(urls: dict[str, str], *, server_port: int, api_key: str, store_url: str,
                 probe_interval_s: float, probe_timeout_s: float, scrape_interval_s: float) -> dict[str, Any]:
    """The config data (before validation) for services at `urls` (name -> base URL)."""
    services = []
    for name, url in urls.items():
        services.append({
            "name": name,
            "description": DESCRIPTIONS.get(name, ""),
            "depends_on": [d for d in DEPENDS_ON.get(name, []) if d in urls],
            "labels": {"demo": "shop"},
            "chaos": "allowed",  # the demo is there to be broken: `vigil chaos run -c` may inject faults
            "probes": [{
                "kind": "http", "name": "health", "url": url + "/health",
                "interval": f"{probe_interval_s:g}s", "timeout": f"{probe_timeout_s:g}s",
                "json_field": {"path": "status", "equals": "ok"},
                # two failures: a fault shows as unhealthy within two probe intervals
                "failure_threshold": 2, "success_threshold": 2,
            }],
            "metrics": [{
                "kind": "scrape", "url": url + "/metrics",
                "interval": f"{scrape_interval_s:g}s", "timeout": f"{probe_timeout_s:g}s",
            }],
            "rules": [dict(r) for r in RULES],
        })
    return {
        "services": services,
        "store": {"url": store_url},
        "server": {"host": HOST, "port": server_port, "api_keys": [{"name": "demo", "key": api_key}]},
    }
