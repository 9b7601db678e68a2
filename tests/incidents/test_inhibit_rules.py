"""Inhibition rules with the cases of Alertmanager's inhibit/inhibit_test.go (TestInhibitRuleMatches,
TestInhibitRuleMatchers, TestInhibit), plus reload and the plug-in hook."""

from __future__ import annotations

import pytest

from vigil.incidents.inhibit import Inhibitor, InhibitRule
from vigil.model import Alert, AlertStatus

NOW = 1_700_000_000.0


def alert(labels: dict[str, str], ends_at: float | None = NOW + 3600, status=AlertStatus.FIRING) -> Alert:
    return Alert(labels, status, NOW - 60, ends_at)


def inhibitor(*rules: dict, sources: list[dict[str, str]]) -> Inhibitor:
    ih = Inhibitor([InhibitRule.from_config(r) for r in rules])
    ih.observe_many(alert(s) for s in sources)
    return ih


MATCH_RULES = ({"source_match": {"s1": "1"}, "target_match": {"t1": "1"}, "equal": ["e"]},
               {"source_match": {"s2": "1"}, "target_match": {"t2": "1"}, "equal": ["e"]})
MATCHER_RULES = ({"source_matchers": ['s1="1"'], "target_matchers": ['t1!="1"'], "equal": ["e"]},
                 {"source_matchers": ['s2="1"'], "target_matchers": ['t2="1"'], "equal": ["e"]})
SOURCES = [{"s1": "1", "t1": "2", "e": "1"},  # matches the source of rule 1
           {"s2": "1", "t2": "1", "e": "1"}]  # matches source and target of rule 2


@pytest.mark.parametrize(("target", "muted"), [
    ({"t1": "1", "e": "1"}, True),
    ({"t1": "1", "t3": "1", "e": "1"}, True),
    ({"t1": "1", "t2": "1", "e": "1"}, True),
    ({"t1": "0", "e": "1"}, False),
    ({"s1": "1", "t1": "1", "e": "1"}, True),  # both sides of rule 1; its source only matches one side
    ({"s2": "1", "t2": "1", "e": "1"}, False),  # both sides of rule 2, and so is its only source
    ({"t1": "1", "e": "0"}, False),
])
def test_inhibit_rule_matches(target: dict[str, str], muted: bool) -> None:
    assert inhibitor(*MATCH_RULES, sources=SOURCES).mutes(alert(target), NOW) is muted


@pytest.mark.parametrize(("target", "muted"), [
    ({"t1": "1", "e": "1"}, False),
    ({"t2": "1", "e": "1"}, True),
    ({"t1": "1", "t3": "1", "e": "1"}, False),
    ({"t1": "1", "t2": "1", "e": "1"}, True),
    ({"t1": "0", "e": "1"}, True),
    ({"s1": "1", "t1": "1", "e": "1"}, False),
    ({"s2": "1", "t2": "1", "e": "1"}, True),
    ({"t1": "1", "e": "0"}, False),
])
def test_inhibit_rule_matchers(target: dict[str, str], muted: bool) -> None:
    assert inhibitor(*MATCHER_RULES, sources=SOURCES).mutes(alert(target), NOW) is muted


def test_a_source_inhibits_while_firing_and_not_once_resolved_or_past_its_end() -> None:  # TestInhibit
    rule = {"source_match": {"s": "1"}, "target_match": {"t": "1"}, "equal": ["e"]}
    one, two = {"t": "1", "e": "f"}, {"s": "1", "e": "f"}
    ih = inhibitor(rule, sources=[])
    assert not ih.mutes(alert(one), NOW)
    ih.observe(alert(two))
    assert ih.mutes(alert(one), NOW) and not ih.mutes(alert(two), NOW)
    assert not ih.mutes(alert(one), NOW + 3600)  # the source's end time has passed
    ih.observe(alert(two, NOW - 1, AlertStatus.RESOLVED))
    assert not ih.mutes(alert(one), NOW)


def test_missing_equal_labels_compare_as_empty() -> None:
    ih = inhibitor({"source_matchers": ["alertname=ClusterDown"], "target_matchers": ["severity=warning"],
                    "equal": ["cluster"]}, sources=[{"alertname": "ClusterDown"}])
    assert ih.mutes(alert({"alertname": "Slow", "severity": "warning"}), NOW)
    assert not ih.mutes(alert({"alertname": "Slow", "severity": "warning", "cluster": "eu"}), NOW)


def test_reload_indexes_the_firing_alerts_under_the_new_rules_and_keeps_hooks() -> None:
    calls: list[str] = []

    def hook(a: Alert, now: float) -> bool:
        calls.append(a.labels.get("service", ""))
        return a.labels.get("service") == "storefront"

    ih = Inhibitor([], [hook])
    ih.observe(alert({"alertname": "DBDown", "service": "db"}))
    target = alert({"alertname": "Slow", "service": "api"})
    assert not ih.mutes(target, NOW)
    rule = {"source_matchers": ["alertname=DBDown"], "target_matchers": ["service=api"]}
    ih.reload([InhibitRule.from_config(rule)])
    assert ih.mutes(target, NOW)
    assert ih.mutes(alert({"service": "storefront"}), NOW) and calls[-1] == "storefront"
