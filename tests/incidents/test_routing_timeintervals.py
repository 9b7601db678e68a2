"""Time intervals, with the cases of Alertmanager's timeinterval/timeinterval_test.go: parsing
errors word for word, and which instants each interval contains."""

from __future__ import annotations

from datetime import datetime

import pytest
import yaml

from vigil.incidents.timeintervals import TimeInterval


def at(text: str) -> float:
    """Go's RFC822Z ("02 Jan 06 15:04 -0700") -> epoch seconds."""
    return datetime.strptime(text, "%d %b %y %H:%M %z").timestamp()


def interval(text: str) -> TimeInterval:
    return TimeInterval.from_config(yaml.safe_load(text))


CASES = [
    ("{}", ["02 Jan 06 15:04 +0000", "03 Jan 07 10:04 +0000", "04 Jan 06 09:04 +0000"], []),
    # 9am to 5pm, Monday to Friday
    ("{times: [{start_time: '09:00', end_time: '17:00'}], weekdays: ['monday:friday']}",
     ["04 May 20 15:04 +0000", "05 May 20 10:04 +0000", "09 Jun 20 09:04 +0000"],
     ["03 May 20 15:04 +0000", "04 May 20 08:59 +0000", "05 May 20 05:00 +0000"]),
    # Easter 2020
    ("{days_of_month: ['4:6'], months: ['april'], years: ['2020']}",
     ["04 Apr 20 15:04 +0000", "05 Apr 20 00:00 +0000", "06 Apr 20 23:05 +0000"],
     ["03 May 18 15:04 +0000", "03 Apr 20 23:59 +0000", "04 Jun 20 23:59 +0000", "06 Apr 19 23:59 +0000",
      "07 Apr 20 00:00 +0000"]),
    # the last 3 days of each month
    ("{days_of_month: ['-3:-1']}",
     ["31 Jan 20 15:04 +0000", "30 Jan 20 15:04 +0000", "29 Jan 20 15:04 +0000", "30 Jun 20 00:00 +0000",
      "29 Feb 20 23:05 +0000"],
     ["03 May 18 15:04 +0000", "27 Jan 20 15:04 +0000", "03 Apr 20 23:59 +0000", "04 Jun 20 23:59 +0000",
      "06 Apr 19 23:59 +0000", "07 Apr 20 00:00 +0000", "01 Mar 20 00:00 +0000"]),
    # out of bound days are clamped to the month (built directly: the YAML form refuses -31:31)
    (TimeInterval(months=((6, 6),), days_of_month=((-31, 31),)),
     ["30 Jun 20 00:00 +0000", "01 Jun 20 00:00 +0000"], ["31 May 20 00:00 +0000", "01 Jul 20 00:00 +0000"]),
    # another zone: AEST 9am to 5pm, Monday to Friday
    ("{times: [{start_time: '09:00', end_time: '17:00'}], weekdays: ['monday:friday'], "
     "location: 'Australia/Sydney'}", ["06 Apr 21 13:00 +1000"], ["06 Apr 21 13:00 +0000"]),
    # ... during daylight saving time
    ("{times: [{start_time: '09:00', end_time: '17:00'}], weekdays: ['monday:friday'], months: ['11'], "
     "location: 'Australia/Sydney'}", ["01 Nov 21 09:00 +1100", "31 Oct 21 22:00 +0000"],
     ["31 Oct 21 21:00 +0000"]),
    # the last week but Saturday of the first quarter, business hours, 2020-2025 and 2030-2035
    ("{weekdays: ['monday:friday', 'sunday'], months: ['january:march'], days_of_month: ['-7:-1'], "
     "years: ['2020:2025', '2030:2035'], times: [{start_time: '09:00', end_time: '17:00'}]}",
     ["27 Jan 21 09:00 +0000", "28 Jan 21 16:59 +0000", "29 Jan 21 13:00 +0000", "31 Mar 25 13:00 +0000",
      "31 Jan 35 13:00 +0000"],
     ["30 Jan 21 13:00 +0000", "01 Apr 21 13:00 +0000", "30 Jan 26 13:00 +0000", "31 Jan 35 17:01 +0000"]),
    ("{weekdays: ['monday:wednesday', 'saturday', 'sunday'], "
     "times: [{start_time: '13:00', end_time: '15:00'}], "
     "days_of_month: ['1', '10', '20:-1'], years: ['2020:2023'], months: ['january:march']}",
     ["10 Jan 21 13:00 +0000", "30 Jan 21 14:24 +0000"],
     ["09 Jan 21 13:00 +0000", "20 Jan 21 12:59 +0000", "02 Feb 21 13:00 +0000"]),
    # a range starting after the month's end is not clamped into it
    ("{days_of_month: ['30:31'], years: ['2020:2023'], months: ['february']}", [], ["28 Feb 21 13:00 +0000"]),
    ("{times: [{start_time: '00:00', end_time: '24:00'}]}", ["01 Jan 21 23:59 +0000"], []),
]


@pytest.mark.parametrize(("spec", "inside", "outside"), CASES)
def test_contains_as_alertmanager(spec: str | TimeInterval, inside: list[str], outside: list[str]) -> None:
    ti = spec if isinstance(spec, TimeInterval) else interval(spec)
    assert [t for t in inside if not ti.contains(at(t))] == []
    assert [t for t in outside if ti.contains(at(t))] == []


@pytest.mark.parametrize(("spec", "error"), [
    ("{times: [{start_time: '01:99', end_time: '23:59'}]}", "couldn't parse timestamp 01:99, invalid format"),
    ("{times: [{start_time: '00:00', end_time: '99:99'}]}", "couldn't parse timestamp 99:99, invalid format"),
    ("{times: [{start_time: '17:31', end_time: '17:31'}]}",
     "start time cannot be equal or greater than end time"),
    ("{times: [{start_time: '12:30', end_time: '24:01'}]}", "couldn't parse timestamp 24:01"),
    ("{weekdays: ['friday:monday']}", "start day cannot be before end day"),
    ("{weekdays: ['blurgsday:flurgsday']}", "blurgsday is not a valid weekday"),
    ("{weekdays: ['1:3']}", "1 is not a valid weekday"),
    ("{weekdays: ['-2:-1']}", "-2 is not a valid weekday"),
    ("{days_of_month: ['0']}", "0 is not a valid day of the month: out of range"),
    ("{days_of_month: ['-50:-20']}", "-50 is not a valid day of the month: out of range"),
    ("{days_of_month: ['1:50']}", "50 is not a valid day of the month: out of range"),
    ("{days_of_month: ['-15:5']}", "end day must be negative if start day is negative"),
    ("{days_of_month: ['10:-25']}", "end day -25 is always before start day 10"),
    ("{months: ['martius:june']}", "martius is not a valid month"),
    ("{months: ['march:junius']}", "junius is not a valid month"),
    ("{months: ['december:january']}", "end month january is before start month december"),
    ("{years: ['2022:2020']}", "end year 2020 is before start year 2022"),
    ("{location: 'Mars/Olympus_Mons'}", "unknown time zone"),
])
def test_invalid_intervals_are_refused_with_alertmanagers_words(spec: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        interval(spec)


def test_names_are_case_insensitive() -> None:
    ti = interval("{months: ['January:december'], weekdays: ['Saturday']}")
    assert ti.contains(at("02 Jan 21 10:00 +0000")) and not ti.contains(at("03 Jan 21 10:00 +0000"))
