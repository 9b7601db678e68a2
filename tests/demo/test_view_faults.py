"""Every service's fault URL is shown, with whose it is: in the live view and in the plain lines of
headless or piped runs."""

from __future__ import annotations

import io

from rich.console import Console

from vigil.demo.events import EventLines, announcement
from vigil.demo.view import DemoState, HealthTransition, render
from vigil.model import Event

URLS = {"catalog": "http://127.0.0.1:4001/admin/fault", "payments": "http://127.0.0.1:4002/admin/fault",
        "storefront": "http://127.0.0.1:4003/admin/fault"}


def state() -> DemoState:
    return DemoState(api_url="http://127.0.0.1:9999", api_key="k-123",
                     store_url="postgresql://vig:pw-not-shown@db/x", admin_urls=dict(URLS))


def lines_with(text: str, needle: str) -> list[str]:
    return [ln for ln in text.splitlines() if needle in ln]


def test_the_live_view_names_every_fault_url() -> None:
    out = io.StringIO()
    Console(file=out, width=160).print(render(state()))
    text = out.getvalue()
    for name, url in URLS.items():
        assert any(name in ln for ln in lines_with(text, url)), f"{name}'s fault URL not named:\n{text}"
    assert "pw-not-shown" not in text and "vig:***@db" in text


def test_plain_runs_announce_the_api_key_and_every_fault_url() -> None:
    text = "\n".join(announcement(state()))
    assert "vigil API http://127.0.0.1:9999" in text and "API key k-123" in text
    assert "pw-not-shown" not in text
    for name, url in URLS.items():
        assert any(name in ln for ln in lines_with(text, url))


def test_event_lines_once_each_and_alerts_summarised_per_service() -> None:
    s, events = state(), EventLines()
    s.transitions.append(HealthTransition(1.0, "catalog", "unknown", "healthy"))
    burst = [Event(100.0 + i, "alert", "catalog", f"FIRING [warning] Anomaly: latency {i}", {"status": "firing"})
             for i in range(5)]
    opened = Event(100.0, "incident", "catalog", "incident 1 opened: catalog: Anomaly", {"incident": 1})
    noise = Event(100.0, "health", "catalog", "not shown: health comes from the transitions")
    first = events.new(s, [*burst, opened, noise])
    assert first[0] == "+  1.0s  catalog: unknown -> healthy"
    assert first[1] == "+  0.0s  catalog: incident 1 opened: catalog: Anomaly"
    assert first[2].startswith("+  0.0s  catalog: FIRING [warning] Anomaly: latency 0")
    assert first[2].endswith("(and 4 more alert lines for catalog)") and len(first) == 3
    assert events.new(s, [*burst, opened]) == []  # the store answers "since the newest printed": nothing twice


def test_the_live_view_shows_firing_alerts_and_open_incidents() -> None:
    s = state()
    s.alerts = {"payments": ["ProbeFailing", "Anomaly"]}
    s.incidents = [(3, "open", "payments: ProbeFailing and 1 more alert")]
    out = io.StringIO()
    Console(file=out, width=200).print(render(s))
    text = out.getvalue()
    assert "Anomaly +1" in lines_with(text, "payments")[0]
    assert "#3 [open] payments: ProbeFailing and 1 more alert" in text
