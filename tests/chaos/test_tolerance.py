"""Tolerances as Chaos Toolkit reads them, against the outputs each provider gives."""

from __future__ import annotations

import pytest

from vigil.chaos.tolerance import MISSING, parse_tolerance, pick

HTTP = {"status": 200, "headers": {}, "body": {"status": "ok", "items": [{"id": 7}]}}
PROCESS = {"status": 0, "stdout": "ready\n", "stderr": ""}


@pytest.mark.parametrize(("spec", "output", "met"), [
    (200, HTTP, True), (201, HTTP, False), ([200, 204], HTTP, True), ([500], HTTP, False),
    (0, PROCESS, True), (1, PROCESS, False), ("ready", PROCESS, True), ("nope", PROCESS, False),
    (True, True, True), (True, 1, False), (False, False, True), (False, 0, False), ("healthy", "healthy", True),
    (0, 0, True), (0, 2, False), (12.5, 12.5, True), ([1, 2], 2, True),
    ({"type": "range", "range": [0, 500]}, 120.0, True), ({"type": "range", "range": [0, 500]}, 501, False),
    ({"type": "range", "range": [0, 500]}, "fast", False), ({"type": "range", "range": [200, 299]}, HTTP, True),
    ({"type": "range", "range": [0, 50], "target": "phases.sustain.p99_ms"},
     {"phases": {"sustain": {"p99_ms": 42}}}, True),
    ({"type": "range", "range": [0, 50], "target": "phases.spike.p99_ms"}, {"phases": {}}, False),
    ({"type": "regex", "pattern": "^rea"}, PROCESS, True), ({"type": "regex", "pattern": "^x"}, PROCESS, False),
    ({"type": "regex", "pattern": "o+k", "target": "body.status"}, HTTP, True),
    ({"type": "jsonpath", "path": "$.status", "expect": "ok"}, HTTP, True),
    ({"type": "jsonpath", "path": "$.items[0].id", "expect": 7}, HTTP, True),
    ({"type": "jsonpath", "path": "$.items[0].id", "expect": [7]}, HTTP, True),
    ({"type": "jsonpath", "path": "$.items[3].id"}, HTTP, False),
    ({"type": "jsonpath", "path": "status", "expect": "down"}, HTTP, False),
])
def test_tolerances(spec: object, output: object, met: bool) -> None:
    assert parse_tolerance(spec).met(output) is met


@pytest.mark.parametrize(("spec", "message"), [
    ({"type": "probe", "name": "x"}, "a probe as a tolerance is not supported"),
    ({"type": "range", "range": [3]}, "range: [low, high]"),
    ({"type": "range", "range": [0, 1], "colour": 1}, "unknown key(s) colour"),
    ({"type": "regex", "pattern": "(a"}, "not a valid RE2 expression"),
    ({"type": "regex", "pattern": r"(a)\1"}, "not a valid RE2 expression"),  # backreferences: not in RE2
    ({"type": "jsonpath", "path": "$..id"}, "only plain paths"),
    ({"type": "jsonpath", "path": "$.items[?(@.id)]"}, "only plain paths"),
    ([], "at least one value"), (None, "a tolerance is a value"),
])
def test_bad_tolerances_are_refused_with_the_reason(spec: object, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_tolerance(spec)
    assert message in str(err.value)


def test_pick() -> None:
    assert pick({"a": [{"b": 1}]}, "a.0.b") == 1 == pick({"a": [{"b": 1}]}, "$.a[0].b")
    assert pick({"a": [1, 2]}, "a[-1]") == 2
    assert pick({"a": 1}, "a.b") is MISSING and pick([1], "5") is MISSING
