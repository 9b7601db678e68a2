"""The only wiring: build_engine(config) makes every part of the loop (store, writer, worker, sources,
stages, actuators) and hands them to the Engine; build_app adds the API. No globals: tests build as
many as they like, with fakes for any part (`vigil.testing`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from vigil.act.actuators.base import Actuator
from vigil.act.actuators.guarded import BreakerActuator
from vigil.audit import AuditLog
from vigil.automation import Automation
from vigil.breaker import BreakerMetrics, Breakers
from vigil.clock import Clock, SystemClock
from vigil.config import VigilConfig
from vigil.config.redact import secret_values
from vigil.engine import Engine, Stages
from vigil.model import SeriesKey
from vigil.notify.base import Notifier
from vigil.pipeline import Offload, Stage
from vigil.selfmetrics import SelfMetrics
from vigil.stages.scaling import ScaledService

if TYPE_CHECKING:
    from vigil.notify.outbox import Outbox
from vigil.web.application import api_app
from vigil.web.auth import ApiKeys


def build_engine(config: VigilConfig, *, store: Any = None, clock: Clock | None = None,
                 collectors: Sequence[Any] | None = None, actuators: Mapping[str, Actuator] | None = None,
                 writer: Offload | None = None, worker: Offload | None = None,
                 extra_stages: Sequence[Stage] = (), replace: Mapping[str, Any] | None = None,
                 notifiers: Mapping[str, Sequence[Notifier]] | None = None,
                 metrics: SelfMetrics | None = None, audit: Any = None, switch: Any = None) -> Engine:
    """The engine for `config`. Each keyword replaces one part: a test's FakeClock, InlineWriter,
    scripted collectors, a MemoryActuator per service name, FakeNotifiers per receiver name, the audit
    sink (`MemoryAudit`) and kill switch (`FakeKillSwitch`) remediation uses instead of the audit log
    and `Automation`, stages
    of its own after scale (`extra_stages`) or in the place of one of the loop's
    (`replace={"rules": ...}`)."""
    from vigil.incidents.report_schedule import ReportSchedule
    from vigil.incidents.rootcause import ShiftRanker
    from vigil.incidents.router import AlertRouter
    from vigil.sources import HealthTracker, HttpPool, build_collectors
    from vigil.stages.alerts import AlertBook, AlertStage
    from vigil.stages.detection import DetectionStage
    from vigil.stages.forecasting import ForecastingStage
    from vigil.stages.health import HealthStage
    from vigil.stages.incidents import IncidentStage
    from vigil.stages.notify import NotifyStage
    from vigil.stages.persist import PersistStage
    from vigil.stages.record import RecordStage
    from vigil.stages.route import RouteStage
    from vigil.stages.rules import RulesStage
    from vigil.stages.scaling import ScalingStage
    from vigil.writer import StoreWriter, Worker

    if store is None:
        from vigil.store import open_store
        store = open_store(config.store.url, config.store.retention)
    clock = clock or SystemClock()
    writer = writer or StoreWriter()
    worker = worker or Worker()
    metrics = metrics or SelfMetrics()
    http = None
    if collectors is None:
        http = HttpPool()  # one keep-alive pool for every HTTP probe and scrape
        collectors = build_collectors(config, http)
    audit_log = AuditLog(store, writer, clock, secret_values(config))
    automation = Automation(store, writer, clock, audit_log, metrics)
    breakers = Breakers()
    book = AlertBook(store, worker)
    record = RecordStage(store, writer)
    incidents = IncidentStage(config, store, worker, clock, ranker=ShiftRanker())
    router = AlertRouter.from_config(config.alerting, store, writer) if config.alerting.route is not None else None
    stages = Stages(
        persist=PersistStage(store, writer, metrics),
        health=HealthStage(HealthTracker.from_config(config), store, writer, metrics, book,
                           [s.name for s in config.services]),
        detect=DetectionStage(config, store, writer, worker, clock, book),
        rules=RulesStage(config, store, clock, writer, worker),
        forecast=ForecastingStage(config, store, writer, worker, clock, record),
        alerts=AlertStage(book),
        incidents=incidents,
        scale=ScalingStage(clock, scaled_services(config, clock, actuators or {}, breakers), record,
                           audit=audit_log, paused=automation.is_paused),
        route=RouteStage(router, incidents, book, store, worker, record),
        notify=NotifyStage(outbox(config, store, writer, notifiers),
                           ReportSchedule(config, store, worker) if config.reports else None),
        record=record,
        book=book,
        extra=list(extra_stages))
    stages.remediate = remediate_stage(config, store, writer, clock, stages, actuators or {}, audit or audit_log,
                                       switch or automation, breakers)
    for role, stage in (replace or {}).items():
        if not hasattr(stages, role) or role in ("book", "extra"):
            raise ValueError(f"no stage {role!r} to replace")
        setattr(stages, role, stage)
    box = getattr(stages.notify, "outbox", None)
    if box is not None:  # the outbox keeps a breaker per receiver endpoint; shown with the others
        breakers.watch(box.breakers)
    metrics.registry.register(BreakerMetrics(breakers, clock.now))  # type: ignore[arg-type]
    return Engine(config, store, stages, clock=clock, writer=writer, worker=worker, collectors=collectors,
                  metrics=metrics, http=http, audit=audit_log, automation=automation, breakers=breakers)


def remediate_stage(config: VigilConfig, store: Any, writer: Offload, clock: Clock, stages: Stages,
                    actuators: Mapping[str, Actuator], audit: Any, switch: Any,
                    breakers: Breakers | None = None) -> Any:
    """Runbooks over the incidents, acting through each service's actuator (its scaling one, or one
    given); `audit` (an AuditSink) and `switch` (the kill switch's is_paused) as the caller has them."""
    from vigil.stages.remediate import RemediateStage

    if not config.runbooks:
        return None
    from vigil.heal.tell import OutboxTeller
    from vigil.heal.windows import configured_windows

    acting = {svc.name: svc.actuator for svc in stages.scale.services}
    acting.update(actuators)
    router = getattr(stages.route, "router", None)
    teller = (OutboxTeller(stages.notify, router, stages.incidents, stages.book)
              if getattr(stages.notify, "outbox", None) is not None else None)
    return RemediateStage(config, store, writer, clock, stages.incidents, stages.book, stages.health.tracker,
                          acting, audit, switch, teller, configured_windows(config, stages.route), breakers)



def outbox(config: VigilConfig, store: Any, writer: Offload,
           notifiers: Mapping[str, Sequence[Notifier]] | None) -> Outbox | None:
    """The durable outbox over every configured receiver (each integration a notifier), or None
    when nothing is routed."""
    from vigil.notify import build_notifiers
    from vigil.notify.outbox import Outbox

    alerting = config.alerting
    if alerting.route is None:
        return None
    external = config.server.external_url or f"http://{config.server.host}:{config.server.port}"
    built = {r.name: (notifiers or {}).get(r.name) or build_notifiers(r, None, external) for r in alerting.receivers}
    return Outbox(store, writer, built, alerting.outbox)


def scaled_services(config: VigilConfig, clock: Clock, actuators: Mapping[str, Actuator],
                    breakers: Breakers | None = None) -> list[ScaledService]:
    """The scaling parts of each service with a `scaling:` policy and a metric series. Without an
    actuator the policy still decides and records, as shadow mode would. A configured actuator calls
    out through a circuit breaker (`actuator:SERVICE`)."""
    import logging

    from vigil.act.actuators import build_actuator
    from vigil.act.actuators.memory import MemoryActuator
    from vigil.act.scaling.floor import make_forecaster
    from vigil.act.scaling.policy import ScalePolicy

    out = []
    for svc in config.services:
        cfg = svc.scaling
        if cfg is None:
            continue
        if not cfg.metric.series:
            logging.getLogger("vigil.scaling").warning("%s: scaling has no metric.series; its policy cannot "
                                                       "decide", svc.name)
            continue
        key = SeriesKey.parse(cfg.metric.series)
        if "service" not in key.label_map:
            key = SeriesKey.of(key.name, {**key.label_map, "service": svc.name})
        actuator = actuators.get(svc.name) or (
            build_actuator(cfg.actuator, svc.name) if cfg.actuator
            else MemoryActuator(service=svc.name, replicas=cfg.min_replicas or 1))
        if breakers is not None and cfg.actuator and svc.name not in actuators:
            actuator = BreakerActuator(actuator, breakers, f"actuator:{svc.name}", clock)
        forecaster = make_forecaster(cfg.predictive.forecaster) if cfg.mode != "reactive" else None
        out.append(ScaledService(svc.name, key, cfg.metric.kind != "utilization",
                                 ScalePolicy(svc.name, cfg, clock, forecaster=forecaster), actuator))
    return out


def build_app(config: VigilConfig, **parts: Any) -> tuple[FastAPI, Engine]:
    """The API over a new engine (`parts` as for build_engine)."""
    engine = build_engine(config, **parts)
    keys = ApiKeys({k.name: k.key.get_secret_value() for k in config.server.api_keys},
                   {k.name: tuple(k.scopes) for k in config.server.api_keys},
                   {k.name: k.rate_limit_per_min for k in config.server.api_keys})
    app = api_app(engine, keys)
    return app, engine


async def serve(app: FastAPI, host: str, port: int, ready: asyncio.Event | None = None,
                sock: socket.socket | None = None, tls: tuple[str, str] | None = None) -> None:
    """Run uvicorn until cancelled (on `sock` when given: a socket the caller bound before starting
    anything; https with `tls`, a PEM certificate and key file). The engine's lifecycle is the caller's."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                            access_log=False, ssl_certfile=tls[0] if tls else None,
                            ssl_keyfile=tls[1] if tls else None)
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]  # the caller owns signals
    task = asyncio.create_task(server.serve(sockets=[sock] if sock is not None else None))
    try:
        if ready is not None:
            while not server.started and not task.done():  # noqa: ASYNC110  uvicorn offers no started event
                await asyncio.sleep(0.02)
            ready.set()
        await task
    except asyncio.CancelledError:
        server.should_exit = True
        live = getattr(app.state, "live", None)
        if live is not None:  # open live streams end, or the server would wait for them
            live.close()
        await asyncio.wait_for(asyncio.shield(task), timeout=5)
        raise
