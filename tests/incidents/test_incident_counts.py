"""An incident's firing counts, kept as members change (so a pass asks them in O(1) per alert with
thousands of members), agree with its members at every step, also for one loaded from the store."""

from __future__ import annotations

from vigil.incidents.model import Incident, IncidentStatus, Member
from vigil.model import Alert, AlertStatus, Severity


def alert(service: str, i: int, severity: str = "warning") -> Alert:
    return Alert({"alertname": "A", "service": service, "i": str(i), "severity": severity}, AlertStatus.FIRING,
                 0.0, None, {}, "test")


def agrees(inc: Incident) -> None:
    firing = [m for m in inc.members.values() if m.firing]
    assert inc.firing_count == len(firing)
    for s in {m.service for m in inc.members.values()} | {"elsewhere"}:
        assert inc.firing_on(s) == any(m.service == s for m in firing)


def test_counts_follow_adds_resolves_refires_and_replacements():
    inc = Incident(1, "", IncidentStatus.OPEN, Severity.WARNING, "db", 0.0, 0.0)
    members = [inc.add(alert(s, i), float(i), "test") for i, s in enumerate(["db", "db", "api", "web"])]
    agrees(inc)
    inc.mark(members[0], False, 5.0)
    inc.mark(members[0], False, 6.0)  # resolved twice counts once
    agrees(inc)
    assert inc.firing_on("db")
    inc.mark(members[1], False, 7.0)
    agrees(inc)
    assert not inc.firing_on("db") and inc.firing_count == 2
    inc.mark(members[1], True, 8.0)
    agrees(inc)
    inc.add(alert("db", 1), 9.0, "again")  # the same fingerprint joins again: replaced, not counted twice
    agrees(inc)
    assert inc.firing_count == 3


def test_severity_is_the_worst_of_its_members_as_they_join():
    inc = Incident(1, "", IncidentStatus.OPEN, Severity.INFO, "db", 0.0, 0.0)
    inc.add(alert("db", 0, "info"), 0.0, "t")
    assert inc.severity is Severity.INFO
    inc.add(alert("db", 1, "critical"), 1.0, "t")
    inc.add(alert("db", 2, "warning"), 2.0, "t")
    assert inc.severity is Severity.CRITICAL == inc.worst()
    inc.add(alert("db", 3, "info"), 3.0, "t")
    inc.add(alert("db", 1, "critical"), 4.0, "t")  # the same one joins again (replaced)
    assert inc.severity is Severity.CRITICAL == inc.worst()


def test_an_incident_loaded_with_its_members_counts_them_at_first_use():
    inc = Incident(1, "", IncidentStatus.OPEN, Severity.WARNING, "db", 0.0, 0.0)
    for i, (s, firing) in enumerate([("db", False), ("api", True), ("api", True)]):
        inc.members[f"fp{i}"] = Member(1, f"fp{i}", "A", s, "warning", 0.0, "loaded", firing)  # as the store does
    agrees(inc)
    inc.mark(inc.members["fp1"], False, 1.0)
    agrees(inc)
    assert inc.firing_count == 1
