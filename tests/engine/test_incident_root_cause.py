"""Root causes ranked inside the engine: an incident opened by a symptom (storefront's errors) is
ranked beside the pass from the stored series, and the service whose own metrics moved first and
that the others depend on (payments) becomes what the incident is about, with why."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vigil.app import build_app
from vigil.config import parse_config
from vigil.model import Alert, AlertStatus, SeriesKey
from vigil.pipeline import AlertsIn
from vigil.testing import FakeClock, InlineWriter

T0 = 1_700_000_000.0
CFG = """
store: {{url: "sqlite:///{db}"}}
services:
  - {{name: storefront, depends_on: [payments, catalog]}}
  - {{name: payments}}
  - {{name: catalog}}
"""


def history(store: object, until: float) -> None:
    """Two hours of 10 s samples for each service's latency and errors: normal before T0; from T0
    payments is slow and failing, and storefront, which calls it, answers errors; catalog stays normal."""
    rng = np.random.default_rng(7)
    t = np.arange(T0 - 7200, until, 10.0)
    keys, ts, values = [], [], []
    for service, metric, base, after in (("payments", "latency_seconds", 0.05, 0.5),
                                         ("payments", "errors", 0.1, 3.0),
                                         ("storefront", "latency_seconds", 0.08, 0.08),
                                         ("storefront", "errors", 0.2, 6.0),
                                         ("catalog", "latency_seconds", 0.03, 0.03),
                                         ("catalog", "errors", 0.1, 0.1)):
        v = base * (1 + 0.05 * rng.standard_normal(t.size))
        v[t >= T0] = after * (1 + 0.05 * rng.standard_normal(int((t >= T0).sum())))
        keys += [SeriesKey.of(metric, {"service": service})] * t.size
        ts.append(t)
        values.append(v)
    store.write_batch(keys, np.concatenate(ts), np.concatenate(values))  # type: ignore[attr-defined]


async def test_an_incident_opened_by_a_symptom_is_about_its_root_cause(tmp_path: Path) -> None:
    clock = FakeClock(T0 + 20)
    _, engine = build_app(parse_config(CFG.format(db=tmp_path / "v.db"), env={}), clock=clock, collectors=[],
                          writer=InlineWriter(), worker=InlineWriter())
    history(engine.store, T0 + 900)
    await engine.start()
    try:
        errors = Alert({"alertname": "StorefrontErrors", "service": "storefront", "severity": "critical"},
                       AlertStatus.FIRING, T0 + 20, annotations={"summary": "5xx"}, source="ingest:generic")
        await engine.submit_alerts(AlertsIn([errors]))
        [inc] = engine.stages.incidents.known.values()
        assert inc.service == "storefront" and inc.root_causes == []  # nothing ranked yet
        await clock.advance(61)
        assert inc.root_causes and inc.root_causes[0]["service"] == "payments", inc.root_causes
        assert inc.service == "payments"
        assert "catalog" != inc.root_causes[0]["service"]
        assert "payments" in inc.root_causes[0]["why"]
        timeline = engine.store.incident_timeline(inc.id)
        [found] = [e for e in timeline if e.kind == "root_cause"]
        assert found.message.startswith("probable root cause: ") and found.data["ranking"][0] == "payments"
        [decision] = engine.store.decisions(kind="root_cause")
        assert decision.subject == str(inc.id) and decision.result["ranking"][0]["service"] == "payments"
        stored = engine.store.incident(inc.id)
        assert stored is not None and stored.service == "payments" and stored.root_causes[0]["service"] == "payments"
        await clock.advance(300)  # the settled ranking agrees: no second timeline entry
        assert [e.kind for e in engine.store.incident_timeline(inc.id)].count("root_cause") == 1
    finally:
        await engine.stop()
        engine.store.close()
