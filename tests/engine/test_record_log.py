"""The record stage logs a pass's event lines, at most MAX_LOGGED of them and then one line counting
the rest: a burst of thousands of alerts is not thousands of log lines (every event is stored)."""

from __future__ import annotations

import logging

import pytest

from vigil.model import Event
from vigil.pipeline import Batch
from vigil.stages.record import MAX_LOGGED, RecordStage
from vigil.testing import InlineWriter


class Events:
    def __init__(self) -> None:
        self.appended: list[Event] = []

    def append_events(self, events: list[Event]) -> None:
        self.appended.extend(events)


async def test_a_burst_is_logged_in_part_and_stored_whole(caplog: pytest.LogCaptureFixture) -> None:
    store = Events()
    stage = RecordStage(store, InlineWriter())  # type: ignore[arg-type]
    batch = Batch(now=0.0)
    batch.events = [Event(float(i), "alert", "db", f"FIRING alert {i}") for i in range(500)]
    batch.events += [Event(1.0, "incident", "db", "incident 1 opened")] * 3
    with caplog.at_level(logging.INFO, logger="vigil.engine"):
        await stage.run(batch)
    lines = [r.getMessage() for r in caplog.records if r.name == "vigil.engine"]
    assert lines[:MAX_LOGGED] == [f"FIRING alert {i}" for i in range(MAX_LOGGED)]
    assert lines[MAX_LOGGED:] == [f"... and {503 - MAX_LOGGED} more events in this pass "
                                  f"({500 - MAX_LOGGED} alert, 3 incident): see the event log"]
    assert len(store.appended) == 503


async def test_a_small_pass_is_logged_line_by_line(caplog: pytest.LogCaptureFixture) -> None:
    stage = RecordStage(Events(), InlineWriter())  # type: ignore[arg-type]
    batch = Batch(now=0.0)
    batch.events = [Event(0.0, "alert", "db", "one"), Event(0.0, "alert", "db", "two")]
    with caplog.at_level(logging.INFO, logger="vigil.engine"):
        await stage.run(batch)
    assert [r.getMessage() for r in caplog.records if r.name == "vigil.engine"] == ["one", "two"]
