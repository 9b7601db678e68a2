from vigil.config.schema import parse_config
from vigil.model import Health, ProbeResult
from vigil.sources import Collection, FakeCollector, HealthTracker, Scheduler, Thresholds
from vigil.testing import FakeClock


def result(ok: bool, ts: float, probe: str = "http", service: str = "storefront") -> ProbeResult:
    return ProbeResult(service, probe, ts, ok, 0.01, "HTTP 200" if ok else "HTTP 500")


def test_one_blip_is_not_an_outage_and_thresholds_count_consecutive():
    t = HealthTracker(default=Thresholds(failure=3, success=2))
    changes = [t.observe(result(ok, ts)) for ts, ok in enumerate([True, False, True, False, False, True])]
    assert [str(c) for c in changes if c] == ["storefront/http healthy: first success: HTTP 200"]
    assert t.service_health("storefront") is Health.HEALTHY


async def test_timeline_on_a_fake_clock():
    """Probe every 10 s: fails from t=20; unhealthy at the third failure (t=40); recovers at t=70,
    healthy again at the second success (t=80)."""
    cfg = parse_config("""
services:
  - name: storefront
    probes:
      - {kind: http, url: "http://127.0.0.1:1/health", interval: 10s, timeout: 2s}
""")
    tracker = HealthTracker.from_config(cfg)
    assert tracker.service_health("storefront") is Health.UNKNOWN
    clock = FakeClock(start=0.0)
    outcomes = [True, True, False, False, False, False, False, True, True, True]
    probe = FakeCollector("storefront", "http", interval=10.0, outcomes=outcomes)
    changes = []

    async def deliver(c: Collection) -> None:
        change = tracker.observe(c.probe)
        if change:
            changes.append((clock.now(), str(change), change.service_after))

    scheduler = Scheduler([probe], clock, deliver)
    await scheduler.start()
    await clock.advance(95.0)
    await scheduler.stop()
    assert changes == [
        (0.0, "storefront/http healthy: first success: ok", Health.HEALTHY),
        (40.0, "storefront/http unhealthy: 3 consecutive failures: scripted failure", Health.UNHEALTHY),
        (80.0, "storefront/http healthy: 2 consecutive successes: ok", Health.HEALTHY),
    ]


def test_thresholds_from_config_and_service_is_worst_of_its_probes():
    cfg = parse_config("""
services:
  - name: shop
    probes:
      - {kind: http, url: "http://127.0.0.1:1/", failure_threshold: 1, success_threshold: 1}
      - {kind: tcp, host: 127.0.0.1, port: 1}
""")
    t = HealthTracker.from_config(cfg)
    t.observe(result(True, 0, "http", "shop"))
    assert t.service_health("shop") is Health.UNKNOWN  # tcp has not reported yet
    t.observe(result(True, 0, "tcp", "shop"))
    assert t.service_health("shop") is Health.HEALTHY
    change = t.observe(result(False, 1, "http", "shop"))  # threshold 1: one failure is enough
    assert change and change.after is Health.UNHEALTHY
    assert (change.service_before, change.service_after) == (Health.HEALTHY, Health.UNHEALTHY)
    assert t.services() == {"shop": Health.UNHEALTHY}
    assert t.probe_health("shop", "http").failures == 1
    back = t.observe(result(True, 2, "http", "shop"))
    assert back and back.after is Health.HEALTHY and back.reason.startswith("1 consecutive successes")


def test_never_healthy_target_goes_unhealthy_after_the_threshold():
    t = HealthTracker()
    changes = [t.observe(result(False, ts)) for ts in range(4)]
    assert [c.after if c else None for c in changes] == [None, None, Health.UNHEALTHY, None]
    assert changes[2].before is Health.UNKNOWN
