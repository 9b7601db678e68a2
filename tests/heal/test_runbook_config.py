"""Runbooks in vigil.yaml: every step's parameters validated at start-up, errors naming file, line and key."""

from __future__ import annotations

import pytest

from vigil.config import parse_config
from vigil.config.loader import ConfigError

SERVICES = "services:\n  - name: api\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(SERVICES + text, file="vigil.yaml", env={})
    return [f"{p.line}: {p.path}: {p.message}" for p in err.value.problems]


def test_a_good_runbook_parses_with_shadow_as_the_default_mode() -> None:
    cfg = parse_config(SERVICES + """
runbooks:
  - name: restart-api
    trigger: {service: [api], alertname: [ProbeFailing], for: 30s}
    steps:
      - {action: restart, replicas: 1}
      - {action: wait, duration: 5s}
      - {action: http, url: "http://127.0.0.1:9/cache/clear", json: {all: true}}
    verify: {for: 1m, within: 5m}
""", env={})
    [rb] = cfg.runbooks
    assert rb.mode == "shadow" and rb.trigger.for_ == 30 and [s.action for s in rb.steps] == ["restart", "wait", "http"]
    assert rb.verify.within == 300


def test_bad_steps_are_reported_at_their_line() -> None:
    found = problems("""runbooks:
  - name: r
    steps:
      - {action: scale, to: 3, by: 2}
      - {action: http, url: "ftp://x"}
    verify: {for: 30s, within: 10s}
""")
    assert any(p.startswith("6: runbooks[0].steps[0]") and "exactly one of to or by" in p for p in found), found
    assert any(p.startswith("7: runbooks[0].steps[1]") and "http://" in p for p in found), found
    assert any(p.startswith("8: runbooks[0].verify") and "shorter than verify.for" in p for p in found), found


def test_unknown_services_and_duplicate_names_are_refused() -> None:
    found = problems("""runbooks:
  - name: r
    trigger: {service: [nope]}
    steps: [{action: restart}]
  - name: r
    steps: [{action: restart}]
""")
    assert any("5: runbooks[0].trigger.service[0]" in p and "unknown service 'nope'" in p for p in found), found
    assert any("7: runbooks[1].name" in p and "duplicate runbook name" in p for p in found), found


def test_secret_headers_never_print_in_errors() -> None:
    found = problems("""runbooks:
  - name: r
    steps: [{action: webhook, url: "nope", headers: {Authorization: "Bearer hunter2-secret"}}]
""")
    assert found and not any("hunter2" in p for p in found)
