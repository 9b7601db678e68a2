"""Scheduled reports: their times in a time zone (daylight saving included), the config checks, and a
daily report mailed through the real outbox and email notifier to a real SMTP server (aiosmtpd on
loopback) at its time, with its text and HTML parts, once, even across a restart."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.notify.smtp import SmtpServer, start_smtp
from vigil.app import build_app
from vigil.config import ConfigError, parse_config
from vigil.config.reports import ReportScheduleConfig
from vigil.incidents.report_schedule import next_time, previous_time
from vigil.testing import FakeClock, InlineWriter


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def test_daily_times_follow_the_local_clock_across_daylight_saving() -> None:
    sc = ReportScheduleConfig(kind="daily", at="08:00", time_zone="Europe/Paris", receivers=["r"])
    assert next_time(sc, ts("2024-03-30T12:00:00+00:00")) == ts("2024-03-31T08:00:00+02:00")  # summer time
    assert previous_time(sc, ts("2024-03-31T06:30:00+00:00")) == ts("2024-03-31T08:00:00+02:00")
    assert previous_time(sc, ts("2024-03-31T05:59:00+00:00")) == ts("2024-03-30T08:00:00+01:00")


def test_weekly_and_executive_times() -> None:
    weekly = ReportScheduleConfig(kind="weekly", weekday="friday", at="17:30", receivers=["r"])
    assert next_time(weekly, ts("2023-11-14T22:13:20+00:00")) == ts("2023-11-17T17:30:00+00:00")
    executive = ReportScheduleConfig(
        kind="executive", day_of_month=1, at="09:00", time_zone="America/New_York", receivers=["r"]
    )
    assert next_time(executive, ts("2023-11-14T22:13:20+00:00")) == ts("2023-12-01T09:00:00-05:00")
    assert previous_time(executive, ts("2023-11-14T22:13:20+00:00")) == ts("2023-11-01T09:00:00-04:00")


ALERTING = """
alerting:
  route: {{receiver: reports}}
  receivers:
    - name: reports
      email_configs:
        - {{to: ops@example.com, from: vigil@example.com, smarthost: "{smarthost}", require_tls: false}}
    - name: chat
      webhook_configs: [{{url: "http://127.0.0.1:9/hook"}}]
"""


@pytest.mark.parametrize(
    "reports, message",
    [
        (
            "[{kind: daily, receivers: [nobody]}]",
            "unknown receiver 'nobody'; alerting.receivers has: reports, chat",
        ),
        (
            "[{kind: daily, receivers: [chat]}]",
            "receiver 'chat' has no email_configs; reports are sent by email",
        ),
        ("[{kind: daily, weekday: monday, receivers: [reports]}]", "weekday applies to weekly reports only"),
        ("[{kind: weekly, at: '8am', receivers: [reports]}]", "at must be a time of day as HH:MM"),
        (
            "[{kind: daily, time_zone: Mars/Olympus, receivers: [reports]}]",
            "unknown time zone 'Mars/Olympus'",
        ),
        ("[{kind: monthly, receivers: [reports]}]", "'daily', 'weekly' or 'executive'"),
    ],
)
def test_bad_report_schedules_are_refused_with_the_key_and_the_fix(reports: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(
            ALERTING.format(smarthost="127.0.0.1:25") + f"reports: {reports}\n", file="vigil.yaml", env={}
        )
    assert message in str(err.value) and "reports[0]" in str(err.value)


def test_reports_need_alerting_to_be_sent() -> None:
    with pytest.raises(ConfigError, match="reports are sent through alerting"):
        parse_config("reports: [{kind: daily, receivers: [x]}]\n", env={})


# ------------------------------------------------------------------------------------------ mailed

START = ts("2023-11-15T07:59:30+00:00")


def config(db: Path, smtp: SmtpServer) -> Any:
    return parse_config(
        f"""
store: {{url: "sqlite:///{db}"}}
services: [{{name: payments, sla: 99.9}}]
reports: [{{kind: daily, at: "08:00", receivers: [reports]}}]
"""
        + ALERTING.format(smarthost=smtp.smarthost),
        env={},
    )


async def mails(smtp: SmtpServer, n: int) -> list[Any]:
    for _ in range(200):  # bounded: 10 s at most
        if len(smtp.mailbox.messages) >= n:
            break
        await asyncio.sleep(0.05)
    return list(smtp.mailbox.messages)


async def run_for(db: Path, smtp: SmtpServer, clock: FakeClock, seconds: float) -> Any:
    _, engine = build_app(
        config(db, smtp), clock=clock, collectors=[], writer=InlineWriter(), worker=InlineWriter()
    )
    await engine.start()
    try:
        await clock.advance(seconds)
        await engine.stages.notify.reports.idle()
        await clock.advance(2)  # the pass after the rendering enqueues; the outbox sends on its ticks
        await engine.stages.notify.outbox.idle()
        await clock.advance(1)
    finally:
        await engine.stop()
        engine.store.close()
    return engine


async def test_a_daily_report_is_mailed_at_its_time_once(tmp_path: Path) -> None:
    smtp = start_smtp()
    try:
        clock = FakeClock(START)
        await run_for(tmp_path / "v.db", smtp, clock, 20)  # 07:59:50: not yet
        assert smtp.mailbox.messages == []
        engine = await run_for(tmp_path / "v.db", smtp, clock, 20)  # past 08:00
        got = await mails(smtp, 1)
        assert len(got) == 1 and engine.stages.notify.reports.sent == 1
        mail = got[0]
        assert mail["Subject"] == "Report: Daily report: 2023-11-14 08:00 to 2023-11-15 08:00 UTC"
        assert mail["To"] == "ops@example.com"
        text = mail.get_body(("plain",)).get_content()
        page = mail.get_body(("html",)).get_content()
        assert text.startswith("# Daily report: 2023-11-14 08:00 to 2023-11-15 08:00 UTC")
        assert "No incidents, no SLO impact and no downtime in this period." in text
        assert "| payments | 0 |" in text
        assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script" not in page
        await run_for(tmp_path / "v.db", smtp, clock, 60)  # restarted at 08:00:40, within the grace hour
        await asyncio.sleep(0.3)
        assert len(smtp.mailbox.messages) == 1  # the same key: the outbox already holds it
        clock.set(ts("2023-11-16T07:59:58+00:00"))
        await run_for(tmp_path / "v.db", smtp, clock, 5)
        assert len(await mails(smtp, 2)) == 2  # the next day's
        assert smtp.mailbox.messages[1]["Subject"].endswith("2023-11-15 08:00 to 2023-11-16 08:00 UTC")
    finally:
        smtp.stop()
