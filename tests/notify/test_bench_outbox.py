"""Smoke test of the outbox benchmark at a small size (the figures are measured by hand)."""

from __future__ import annotations

from vigil.bench.outbox import measure


def test_measure_delivers_everything_and_reports_rates():
    figures = measure(60, concurrency=4, batch=25)
    assert figures["notifications"] == 60 and figures["store"] == "sqlite"
    assert figures["outbox_notifications_per_s"] > 0 and figures["direct_notifications_per_s"] > 0
    assert 0 < figures["ratio_to_direct"]
