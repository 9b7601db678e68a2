import numpy as np

from vigil.forecast import create
from vigil.forecast.capacity import limit_crossing, time_to_limit
from vigil.model import Forecast, Severity

from .conftest import HOUR, T0

DAY = 86_400.0


def test_disk_full_on_a_linear_series():
    ts = T0 + HOUR * np.arange(7 * 24)
    used = 40.0 + 2.0 * (ts - ts[0]) / DAY  # 2 GB a day from 40 GB: 54 GB at the last sample
    now = float(ts[-1])
    sig = time_to_limit(used, ts, 60.0, now=now, service="db", series="disk_used_gb", unit=" GB")
    assert sig is not None and sig.kind == "capacity" and sig.severity is Severity.WARNING
    expected = ts[0] + 10 * DAY  # 40 + 2*10 = 60
    assert abs(sig.evidence["eta"] - expected) < 60
    assert sig.reason.startswith("disk full in 3 days")
    assert time_to_limit(used[::-1], ts, 60.0, now=now, service="db", series="d") is None  # shrinking
    assert time_to_limit(used, ts, 1e6, now=now, service="db", series="d") is None  # beyond horizon


def test_cpu_above_limit_expected_at_a_named_hour():
    ts = T0 + HOUR * np.arange(10 * 24)
    hour = (ts % DAY) / HOUR
    cpu = 50 + 35 * np.exp(-((hour - 14) ** 2) / 4)  # peaks at 85% at 14:00 every day
    fc = create("seasonal_naive").fit(cpu, 24, ts).predict(36)
    now = float(ts[-1])  # 23:00
    sig = limit_crossing(fc, 80.0, now=now, service="web", series="cpu", what="CPU", unit="%")
    assert sig is not None and sig.evidence["likely"]
    assert "CPU above 80% expected at 1" in sig.reason and "tomorrow" in sig.reason
    assert 13 <= (sig.evidence["at"] % DAY) / HOUR <= 14
    assert sig.severity is Severity.CRITICAL  # within a day
    assert limit_crossing(fc, 99.0, now=now, service="web", series="cpu") is None


def test_only_the_upper_bound_crossing_is_a_possible_info_signal():
    ts = T0 + HOUR * np.arange(1, 25)
    mean = np.full(24, 70.0)
    fc = Forecast(ts=ts, mean=mean, intervals={80: (mean - 5, mean + np.linspace(1, 15, 24))}, model="m")
    sig = limit_crossing(fc, 80.0, now=T0, service="web", series="cpu", what="CPU", unit="%")
    assert sig is not None and not sig.evidence["likely"] and sig.severity is Severity.INFO
    assert "CPU above 80% possible at" in sig.reason
