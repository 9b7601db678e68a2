"""The Alert type: identity from labels exactly as Prometheus/Alertmanager compute it, and a
resolution that keeps that identity."""

from __future__ import annotations

from vigil.model import Alert, AlertStatus, Severity, Signal, fingerprint


def test_fingerprints_match_prometheus_common() -> None:
    # labelSetToFingerprint: FNV-1a 64 over sorted names and values, each followed by 0xff
    assert fingerprint({}) == "cbf29ce484222325"  # the FNV-64 offset basis: the empty label set
    assert fingerprint({"foo": "bar"}) == "3fff2c2d7595e046"


def test_fingerprints_ignore_label_order_and_tell_label_sets_apart() -> None:
    a = fingerprint({"alertname": "X", "service": "web", "severity": "critical"})
    assert a == fingerprint({"severity": "critical", "service": "web", "alertname": "X"})
    assert a != fingerprint({"alertname": "X", "service": "web", "severity": "warning"})
    # the separator byte keeps name/value boundaries apart: "ab"="c" is not "a"="bc"
    assert fingerprint({"ab": "c"}) != fingerprint({"a": "bc"})
    assert fingerprint({"city": "Zürich"}) != fingerprint({"city": "Zurich"})  # UTF-8 bytes, not ASCII


def test_an_alert_from_a_signal_resolves_with_the_same_identity() -> None:
    sig = Signal(ts=100.0, service="web", series='latency_ms{service="web"}', kind="threshold",
                 severity=Severity.CRITICAL, score=1.0, reason="p99 above 300 for 2m", source="rule:p99",
                 evidence={"value": 412.0})
    fired = Alert.from_signal(sig, "p99")
    assert fired.labels == {"alertname": "p99", "service": "web", "severity": "critical",
                            "series": 'latency_ms{service="web"}'}
    assert fired.firing and fired.starts_at == 100.0 and fired.summary == "p99 above 300 for 2m"
    assert fired.evidence == {"kind": "threshold", "score": 1.0, "value": 412.0}
    over = fired.resolve(160.0, "back below 250")
    assert over.fingerprint == fired.fingerprint == fingerprint(fired.labels)
    assert over.status is AlertStatus.RESOLVED and (over.starts_at, over.ends_at) == (100.0, 160.0)
    assert over.annotations == {"summary": "p99 above 300 for 2m", "resolution": "back below 250"}
    assert fired.firing  # resolving makes a new alert; the firing one is unchanged
