"""Every service's fault URL is shown, with whose it is: in the live view and in the plain lines of
headless or piped runs."""

from __future__ import annotations

import io

from rich.console import Console

from vigil.demo.events import EventLines, announcement
from vigil.demo.view import DemoState, HealthTransition, render
from vigil.model import Severity, Signal

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


def test_event_lines_once_each_and_signals_summarised_per_service() -> None:
    s, events = state(), EventLines()
    s.transitions.append(HealthTransition(1.0, "catalog", "unknown", "healthy"))
    burst = [Signal(100.0 + i, "catalog", "latency_ms", "anomaly", Severity.WARNING, 0.9, f"jump {i}",
                    "detector:x") for i in range(5)]
    first = events.new(s, burst)
    assert first[0] == "+  1.0s  catalog: unknown -> healthy"
    assert len(first) == 2 and "catalog: signal anomaly (warning) on latency_ms: jump 0" in first[1]
    assert first[1].endswith("(and 4 more signals for catalog)")
    assert events.new(s, burst) == []  # the store answers "since the newest printed": nothing twice
