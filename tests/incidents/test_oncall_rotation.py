"""Who is on call at a moment: rotations (weekly, daily, every N hours) handing over at a local time,
across DST changes (zoneinfo), layers on top of layers, and overrides that win."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from vigil.config.oncall import Schedule
from vigil.incidents.oncall import Roster, on_call

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(zone: ZoneInfo, *parts: int) -> float:
    return dt.datetime(*parts, tzinfo=zone).timestamp()


def local(zone: ZoneInfo, ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, zone).strftime("%a %Y-%m-%d %H:%M %z")


def schedule(layers: list[dict[str, Any]], zone: str = "Europe/Berlin",
             overrides: list[dict] | None = None) -> Schedule:
    return Schedule.model_validate({"name": "primary", "time_zone": zone, "layers": layers,
                                    "overrides": overrides or []})


WEEKLY = {"name": "weekly", "rotation": "weekly", "start": "2024-01-01", "handoff": "09:00",
          "users": ["alice", "bob", "carol"]}


def test_a_weekly_rotation_hands_over_at_its_local_time() -> None:
    s = schedule([WEEKLY])
    assert on_call(s, at(BERLIN, 2024, 1, 1, 8, 59)) is None  # before the first handoff: nobody
    assert on_call(s, at(BERLIN, 2024, 1, 1, 9, 0)) == "alice"
    assert on_call(s, at(BERLIN, 2024, 1, 8, 8, 59)) == "alice"
    assert on_call(s, at(BERLIN, 2024, 1, 8, 9, 0)) == "bob"  # Monday 09:00 a week later
    assert on_call(s, at(BERLIN, 2024, 1, 15, 9, 0)) == "carol"
    assert on_call(s, at(BERLIN, 2024, 1, 22, 9, 0)) == "alice"  # and round again
    shifts = Roster(s).shifts(at(BERLIN, 2024, 1, 7), at(BERLIN, 2024, 1, 16))
    assert [(local(BERLIN, x.start), x.user) for x in shifts] == [
        ("Sun 2024-01-07 00:00 +0100", "alice"), ("Mon 2024-01-08 09:00 +0100", "bob"),
        ("Mon 2024-01-15 09:00 +0100", "carol")]
    assert shifts[-1].end == at(BERLIN, 2024, 1, 16) and {x.source for x in shifts} == {"weekly"}


def test_handoffs_stay_at_local_time_across_both_dst_changes() -> None:
    s = schedule([{**WEEKLY, "rotation": "daily", "users": ["alice", "bob"]}])
    r = Roster(s)
    # Berlin: clocks go forward on 2024-03-31 (02:00 -> 03:00) and back on 2024-10-27 (03:00 -> 02:00)
    spring = r.shifts(at(BERLIN, 2024, 3, 30, 9), at(BERLIN, 2024, 4, 1, 9))
    assert [local(BERLIN, x.start) for x in spring] == ["Sat 2024-03-30 09:00 +0100",
                                                         "Sun 2024-03-31 09:00 +0200"]
    assert [(x.end - x.start) / 3600 for x in spring] == [23.0, 24.0]  # the shift over the change is shorter
    autumn = r.shifts(at(BERLIN, 2024, 10, 26, 9), at(BERLIN, 2024, 10, 28, 9))
    assert [local(BERLIN, x.start) for x in autumn] == ["Sat 2024-10-26 09:00 +0200",
                                                         "Sun 2024-10-27 09:00 +0100"]
    assert [(x.end - x.start) / 3600 for x in autumn] == [25.0, 24.0]
    # the same person throughout the short night: no handoff at 02:00 or 03:00
    assert on_call(s, at(BERLIN, 2024, 3, 31, 1, 59)) == on_call(s, at(BERLIN, 2024, 3, 31, 3, 1))


def test_a_handoff_inside_the_spring_forward_gap_happens_just_after_it() -> None:
    s = schedule([{**WEEKLY, "rotation": "daily", "start": "2024-03-08", "handoff": "02:30",
                   "users": ["alice", "bob", "carol"]}], zone="America/New_York")
    r = Roster(s)
    shifts = r.shifts(at(NEW_YORK, 2024, 3, 9, 12), at(NEW_YORK, 2024, 3, 11, 12))
    # 2024-03-10 02:30 does not exist in New York: the handoff is at 03:30 EDT (02:30 at the old offset)
    assert [local(NEW_YORK, x.start) for x in shifts[1:]] == ["Sun 2024-03-10 03:30 -0400",
                                                                "Mon 2024-03-11 02:30 -0400"]
    assert on_call(s, at(NEW_YORK, 2024, 3, 10, 3, 10)) == "bob"
    assert on_call(s, at(NEW_YORK, 2024, 3, 10, 3, 31)) == "carol"


def test_hourly_shifts_are_real_time_and_drift_against_the_wall_clock() -> None:
    s = schedule([{"rotation": "hourly", "every": 12, "start": "2024-03-30", "handoff": "08:00",
                   "users": ["day", "night"]}])
    shifts = Roster(s).shifts(at(BERLIN, 2024, 3, 30, 8), at(BERLIN, 2024, 4, 1, 10))
    assert [(local(BERLIN, x.start), x.user) for x in shifts] == [
        ("Sat 2024-03-30 08:00 +0100", "day"), ("Sat 2024-03-30 20:00 +0100", "night"),
        ("Sun 2024-03-31 09:00 +0200", "day"), ("Sun 2024-03-31 21:00 +0200", "night"),
        ("Mon 2024-04-01 09:00 +0200", "day")]
    assert all(x.end - x.start == 12 * 3600 for x in shifts[:-1])


def test_the_top_layer_wins_where_it_has_someone_and_the_lower_one_fills_the_rest() -> None:
    s = schedule([WEEKLY, {"name": "cover", "rotation": "daily", "start": "2024-01-10", "end": "2024-01-12",
                           "handoff": "12:00", "users": ["dave", "erin"]}])
    assert on_call(s, at(BERLIN, 2024, 1, 10, 11, 59)) == "bob"  # before the top layer starts
    assert on_call(s, at(BERLIN, 2024, 1, 10, 12, 0)) == "dave"
    assert on_call(s, at(BERLIN, 2024, 1, 11, 12, 0)) == "erin"
    assert on_call(s, at(BERLIN, 2024, 1, 12, 12, 0)) == "bob"  # its end: the layer below again
    shifts = Roster(s).shifts(at(BERLIN, 2024, 1, 10), at(BERLIN, 2024, 1, 13))
    assert [(local(BERLIN, x.start), x.user, x.source) for x in shifts] == [
        ("Wed 2024-01-10 00:00 +0100", "bob", "weekly"), ("Wed 2024-01-10 12:00 +0100", "dave", "cover"),
        ("Thu 2024-01-11 12:00 +0100", "erin", "cover"), ("Fri 2024-01-12 12:00 +0100", "bob", "weekly")]
    # order is precedence: the same layers the other way round, and the weekly one covers everything
    flipped = schedule(list(reversed(s.model_dump()["layers"])))
    assert on_call(flipped, at(BERLIN, 2024, 1, 10, 12, 0)) == "bob"


def test_overrides_win_over_every_layer_and_a_later_override_over_an_earlier_one() -> None:
    s = schedule([WEEKLY], overrides=[
        {"user": "zoe", "start": "2024-01-09T18:00:00+01:00", "end": "2024-01-10T08:00:00+01:00"},
        {"user": "yan", "start": "2024-01-09T22:00:00+01:00", "end": "2024-01-09T23:00:00+01:00"}])
    assert on_call(s, at(BERLIN, 2024, 1, 9, 17, 59)) == "bob"
    assert on_call(s, at(BERLIN, 2024, 1, 9, 18, 0)) == "zoe"
    assert on_call(s, at(BERLIN, 2024, 1, 9, 22, 30)) == "yan"
    assert on_call(s, at(BERLIN, 2024, 1, 10, 8, 0)) == "bob"  # the end is exclusive
    shifts = Roster(s).shifts(at(BERLIN, 2024, 1, 9, 12), at(BERLIN, 2024, 1, 10, 12))
    assert [(local(BERLIN, x.start)[-11:-6], x.user, x.source) for x in shifts] == [
        ("12:00", "bob", "weekly"), ("18:00", "zoe", "override"), ("22:00", "yan", "override"),
        ("23:00", "zoe", "override"), ("08:00", "bob", "weekly")]
    # an override before any layer starts still puts someone on call
    early = schedule([WEEKLY], overrides=[{"user": "zoe", "start": "2023-12-31T00:00:00Z",
                                            "end": "2024-01-01T00:00:00Z"}])
    assert on_call(early, at(BERLIN, 2023, 12, 31, 12)) == "zoe"


def test_current_says_since_and_until_when_the_same_person_is_on_call() -> None:
    s = schedule([{**WEEKLY, "users": ["alice"]},
                  {"name": "holiday", "rotation": "weekly", "start": "2024-02-05", "end": "2024-02-12",
                   "users": ["bob"]}])
    now = Roster(s).current(at(BERLIN, 2024, 1, 20))
    assert now is not None and now.user == "alice" and now.source == "weekly"
    assert now.since == at(BERLIN, 2024, 1, 1, 9)  # alice since the first handoff: her weeks are one stretch
    assert now.until == at(BERLIN, 2024, 2, 5, 9)  # alice's consecutive weeks are one stretch, to bob's
    assert Roster(s).current(at(BERLIN, 2023, 12, 1)) is None


def test_a_range_of_shifts_is_bounded() -> None:
    r = Roster(schedule([{**WEEKLY, "rotation": "hourly"}]))
    with pytest.raises(ValueError, match="at most 93 days"):
        r.shifts(0.0, 94 * 86400.0)
    assert r.shifts(10.0, 10.0) == []
