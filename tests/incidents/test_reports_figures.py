"""Report figures from a real SQLite store holding a known day: MTTD, MTTA, MTTR, incident counts,
minutes of SLO impact, availability from probes and from critical incidents against each SLA, and
downtime cost; the HTML is self-contained (inline SVG, no script, no external asset) and the charts
are well-formed SVG with every text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.config import parse_config
from vigil.incidents import svgchart
from vigil.incidents.model import Incident, IncidentStatus, Member
from vigil.incidents.report_render import html_report, markdown
from vigil.incidents.reports import build, firing_spans, union_length
from vigil.model import Alert, AlertStatus, Event, Sample, SeriesKey, Severity
from vigil.store import open_store
from vigil.store.store import Store

T0 = 1_700_000_000.0
DAY = 86400.0
END = T0 + DAY

CONFIG = parse_config(
    """
services:
  - {name: storefront, depends_on: [payments], sla: 99.9, downtime_cost_per_minute: 10}
  - {name: payments, sla: 99.5, downtime_cost_per_minute: 100, probes: [{kind: http, url: "http://127.0.0.1:1/"}]}
""",
    env={},
)


def incident(
    id_: int,
    service: str,
    opened: float,
    resolved: float | None,
    fps: list[str],
    severity: Severity = Severity.CRITICAL,
    acked: float | None = None,
) -> tuple[Incident, list[Member]]:
    inc = Incident(
        id_,
        f"{service}: trouble {id_}",
        IncidentStatus.RESOLVED if resolved else IncidentStatus.OPEN,
        severity,
        service,
        opened,
        resolved or opened,
        [service],
        acknowledged_at=acked,
        acknowledged_by="alice" if acked else None,
        resolved_at=resolved,
    )
    members = [Member(id_, fp, f"Alert{id_}", service, severity.value, opened, "new") for fp in fps]
    return inc, members


def alert_event(ts: float, service: str, fp: str, status: str, source: str = "rule:errors") -> Event:
    return Event(
        ts, "alert", service, f"{status} {fp}", {"status": status, "fingerprint": fp, "source": source}
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    rows = [
        incident(1, "payments", T0 + 3610, T0 + 5410, ["fp1"], acked=T0 + 3700),
        incident(2, "payments", T0 + 20000, T0 + 20600, ["fp2"]),
        incident(3, "storefront", T0 + 40000, T0 + 40600, ["fp3"]),
        incident(4, "storefront", T0 - 7200, None, ["fp4"], Severity.WARNING),  # opened before: not counted
        incident(5, "payments", T0 - 9000, T0 - 8000, ["fp5"]),
    ]  # over before the day began
    s.write_incidents([i for i, _ in rows], [m for _, ms in rows for m in ms], [])
    s.append_events(
        [
            alert_event(T0 + 3600, "payments", "fp1", "firing"),  # started 10 s before the incident opened
            alert_event(T0 + 20000, "payments", "fp2", "firing"),
            alert_event(T0 + 39000, "storefront", "slo1", "firing", "rule:slo:checkout"),
            alert_event(T0 + 41000, "storefront", "slo1", "resolved", "rule:slo:checkout"),
            alert_event(T0 + 40500, "storefront", "slo2", "firing", "ingest:alertmanager"),
            alert_event(T0 + 42000, "storefront", "slo2", "resolved", "ingest:alertmanager"),
            alert_event(T0 + 30000, "storefront", "other", "firing"),  # not an SLO alert
        ]
    )
    s.write_alerts(
        [
            Alert(
                {"alertname": "CheckoutBudget", "service": "storefront"},
                AlertStatus.RESOLVED,
                T0 + 40500,
                T0 + 42000,
                source="ingest:alertmanager",
                evidence={"kind": "slo_burn"},
                fingerprint="slo2",
            )
        ],
        END,
    )
    key = SeriesKey.of("probe_success", {"service": "payments", "probe": "http"})
    s.write_samples(
        [
            Sample(key, t, 0.0 if T0 + 3600 <= t < T0 + 5400 else 1.0)
            for t in (T0 + 15 * k for k in range(int(DAY // 15)))
        ]
    )
    yield s
    s.close()


def test_per_service_figures_of_a_known_day(store: Store) -> None:
    report = build(CONFIG, store, "daily", END, END + 60)
    by = {f.service: f for f in report.services}
    pay, shop = by["payments"], by["storefront"]
    assert (pay.incidents, pay.critical, pay.mttd_s, pay.mtta_s, pay.mttr_s) == (2, 2, 5.0, 90.0, 1200.0)
    assert pay.availability_from == "probes" and pay.measured_s == DAY
    assert pay.availability_pct == pytest.approx(100 * (1 - 30 / 1440), abs=1e-3)  # 30 minutes failing
    assert pay.downtime_s == pytest.approx(1800.0) and pay.downtime_cost == pytest.approx(3000.0)
    assert pay.sla_met is False and pay.slo_impact_s == 0.0
    assert (shop.incidents, shop.mtta_s, shop.mttr_s, shop.mttd_s) == (1, None, 600.0, None)
    assert shop.availability_from == "incidents" and shop.downtime_s == 600.0  # the warning one is no outage
    assert shop.availability_pct == pytest.approx(100 * (1 - 600 / DAY), abs=1e-3) and shop.sla_met is False
    assert shop.downtime_cost == pytest.approx(100.0)
    assert shop.slo_impact_s == 3000.0  # two SLO alerts overlapping: 39000..42000
    fleet = report.fleet
    assert (fleet.incidents, fleet.mttr_s, fleet.downtime_cost) == (3, 1000.0, pytest.approx(3100.0))
    assert [i.id for i in report.incidents][:3] == [1, 2, 3]  # critical first, longest first, then by number
    assert 4 in [i.id for i in report.incidents] and 5 not in [i.id for i in report.incidents]
    assert sum(n for _, n in report.buckets) == 3 and len(report.buckets) == 24


def test_the_executive_report_compares_with_the_period_before(store: Store) -> None:
    report = build(CONFIG, store, "executive", END, END)
    assert report.period.length == 30 * DAY and report.previous is not None
    assert (
        report.fleet.incidents == 5 and report.previous.fleet.incidents == 0
    )  # 4 and 5 are in these 30 days
    assert "Incidents: up 5 from the period before" in markdown(report)


def test_markdown_says_it_plainly(store: Store) -> None:
    text = markdown(build(CONFIG, store, "daily", END, END))
    assert text.startswith("# Daily report: 2023-11-14 22:13 to 2023-11-15 22:13 UTC\n")
    assert (
        "3 incidents (3 critical); MTTD 5s, MTTA 1m 30s, MTTR 16m 40s; 50 min of SLO impact; 40 min of "
        "downtime; downtime cost 3,100.00. Below SLA: storefront 99.306% < 99.9%, payments 97.917% < 99.5%."
        in text
    )
    assert "| payments | 2 | 5s | 1m 30s | 20m | 0 min | 97.917% (below 99.5%) | 30 min | 3,000.00 |" in text
    assert (
        "- #1 payments: trouble 1 (critical, resolved; opened 2023-11-14 23:13, 30m open in the period)"
        in text
    )
    assert (
        "- #4 storefront: trouble 4 (warning, open; opened 2023-11-14 20:13, 1d open in the period)" in text
    )


def test_html_is_self_contained(store: Store) -> None:
    page = html_report(build(CONFIG, store, "weekly", END, END), "Europe/Paris")
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)  # nothing loaded from anywhere
    assert page.count("<svg") == 4  # incidents per day, availability, MTTR, downtime cost
    assert "Weekly report: 2023-11-08 23:13 to 2023-11-15 23:13 Europe/Paris" in page
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        ET.fromstring(svg)  # well-formed


def test_charts_escape_their_text_and_scale_their_axes() -> None:
    svg = svgchart.bars(["<b>&"], [3.0], "incidents <per> hour")
    root = ET.fromstring(svg)
    assert root.find("{http://www.w3.org/2000/svg}title").text == "incidents <per> hour"  # type: ignore[union-attr]
    assert svgchart.nice_max(0) == 1 and svgchart.nice_max(3) == 5 and svgchart.nice_max(120) == 200
    h = svgchart.hbars(["a", "b"], [99.95, 98.0], "avail", "%", [99.9, 99.9], low=97, high=100)
    assert h.count('fill="#d64541"') == 1 and h.count('fill="#2e9d5b"') == 1  # b is below its target
    ET.fromstring(h)


def test_intervals() -> None:
    assert union_length([(0, 10), (5, 15), (20, 30)], 0, 100) == 25
    assert union_length([(0, 10), (5, 15)], 8, 12) == 4
    assert union_length([], 0, 1) == 0
    spans = firing_spans(
        [
            alert_event(5, "s", "a", "firing"),
            alert_event(9, "s", "a", "resolved"),
            alert_event(12, "s", "a", "firing"),
        ],
        until=20,
    )
    assert spans == {"a": [(5, 9), (12, 20)]}
