"""Operators' include/exclude patterns meet series names that pushed data chooses: they run on RE2,
in time linear in the name, whatever the pattern."""

from __future__ import annotations

import time

import pytest

from vigil.config import parse_config
from vigil.config.types import compile_regex
from vigil.sources.exposition import MetricFilter
from vigil.stages.detection import ServicePolicy

EVIL = r"(a+)+$"  # exponential on Python's re for "aaaa...!"
NAME = "a" * 5000 + "!"


def test_a_backtracking_pattern_is_linear_on_a_crafted_name() -> None:
    cfg = parse_config(f"services:\n  - name: w\n    detect: {{include: ['{EVIL}']}}\n", env={})
    policy = ServicePolicy.of(cfg.services[0].detect)
    started = time.perf_counter()
    assert policy.watches(NAME) is False
    assert MetricFilter(include=[EVIL]).keeps(NAME) is False
    assert time.perf_counter() - started < 0.1  # Python's re would take longer than the universe's age


def test_patterns_keep_their_meaning() -> None:
    policy = ServicePolicy.of(parse_config("services:\n  - name: w\n", env={}).services[0].detect)
    assert not policy.watches("scrape_duration_seconds") and not policy.watches("up")
    assert policy.watches("http_requests_total:rate") and policy.watches("upstream_latency")
    assert compile_regex("http_.*").fullmatch("http_x") and not compile_regex("http").fullmatch("http_x")


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)b", r"(?<!x)y"])
def test_what_re2_cannot_run_in_linear_time_is_a_config_error(pattern: str) -> None:
    with pytest.raises(Exception, match="RE2 syntax, linear-time"):
        parse_config(f"services:\n  - name: w\n    detect: {{exclude: ['{pattern}']}}\n", env={})
