"""The `alerting:` section: inline or from an existing alertmanager.yml, Alertmanager's checks
(with its messages), each problem at its file, line and key; global defaults filled in."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from vigil.config import ConfigError, load_config

AM_FILE = """\
global:
  resolve_timeout: 2m
  smtp_smarthost: 'smtp.example.org:587'
  smtp_from: 'alertmanager@example.org'
  smtp_auth_username: 'am'
  smtp_auth_password: 'not-shown'
  slack_api_url: 'https://hooks.slack.example/services/T/B/X'
templates:
- '/etc/alertmanager/template/*.tmpl'
route:
  receiver: team-X-mails
  group_by: ['alertname', 'cluster', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1y
  routes:
  - matchers: [service=~"foo1|foo2|baz"]
    receiver: team-X-mails
    routes:
    - matchers: [severity="critical"]
      receiver: team-X-pager
  - match:
      service: files
    receiver: team-Y-slack
    mute_time_intervals: [offhours]
inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [alertname, cluster, service]
receivers:
- name: team-X-mails
  email_configs:
  - to: 'team-X+alerts@example.org'
- name: team-X-pager
  pagerduty_configs:
  - routing_key: 'secret-key'
- name: team-Y-slack
  slack_configs:
  - channel: '#alerts'
time_intervals:
- name: offhours
  time_intervals:
  - times: [{start_time: '18:00', end_time: '24:00'}]
    location: Europe/Berlin
"""


def write(tmp_path: Path, vigil: str, am: str | None = None) -> Path:
    if am is not None:
        (tmp_path / "am").mkdir(exist_ok=True)
        (tmp_path / "am" / "alertmanager.yml").write_text(textwrap.dedent(am))
    path = tmp_path / "vigil.yaml"
    path.write_text(textwrap.dedent(vigil))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(p) for p in info.value.problems]


def test_an_alertmanager_yml_loads_as_it_is_and_globals_fill_the_receivers(tmp_path: Path) -> None:
    vigil = write(tmp_path, "alerting:\n  alertmanager_config: am/alertmanager.yml\n", AM_FILE)
    cfg = load_config(vigil).alerting
    assert cfg.route is not None and cfg.route.repeat_interval == 365 * 86400
    assert cfg.global_.resolve_timeout == 120
    email = cfg.receivers[0].email_configs[0]
    assert (email.smarthost, email.from_, email.auth_username) == ("smtp.example.org:587",
                                                                   "alertmanager@example.org", "am")
    assert email.auth_password is not None and email.auth_password.get_secret_value() == "not-shown"
    assert "not-shown" not in repr(cfg)  # secrets never print
    slack = cfg.receivers[2].slack_configs[0]
    assert slack.api_url is not None and slack.api_url.get_secret_value().startswith("https://hooks.slack")
    assert cfg.receivers[1].pagerduty_configs[0].url == "https://events.pagerduty.com/v2/enqueue"
    assert cfg.templates == ["/etc/alertmanager/template/*.tmpl"]


def test_the_same_keys_inline(tmp_path: Path) -> None:
    inline = "alerting:\n" + textwrap.indent(AM_FILE, "  ")
    cfg = load_config(write(tmp_path, inline)).alerting
    assert [r.name for r in cfg.receivers] == ["team-X-mails", "team-X-pager", "team-Y-slack"]
    assert cfg.route is not None and cfg.route.routes[1].match == {"service": "files"}


def test_problems_in_the_alertmanager_file_name_that_file_its_line_and_key(tmp_path: Path) -> None:
    vigil = "alerting:\n  alertmanager_config: am/alertmanager.yml\n"
    am = str(tmp_path / "am" / "alertmanager.yml")
    bad = AM_FILE.replace('[severity="critical"]\n      receiver', '[severity="crit]\n      receiver')
    assert problems(write(tmp_path, vigil, bad)) == [
        f"{am}:20: route.routes[0].routes[0].matchers[0]: matcher value contains unescaped double quote: "
        "'\"crit'; found 'severity=\"crit'"]
    bad = AM_FILE.replace("receiver: team-Y-slack\n    mute", "receiver: team-Z\n    mute")
    assert problems(write(tmp_path, vigil, bad)) == [
        f"{am}:24: route.routes[1].receiver: undefined receiver 'team-Z' used in route; defined: "
        "team-X-mails, team-X-pager, team-Y-slack"]


R = "route:\n  receiver: a\n"  # a root route
A = "receivers: [{name: a}]\n"


@pytest.mark.parametrize(("snippet", "line", "message"), [
    (R + "  matchers: [x=y]\n" + A, 2, "root route must not have any matchers"),
    (R + "  continue: true\n" + A, 4, "cannot have continue in root route"),
    ("route:\n  group_by: [a]\n" + A, 2, "root route must specify a default receiver"),
    (R + "  mute_time_intervals: [x]\n" + A + "time_intervals: [{name: x}]\n", 4,
     "root route must not have any mute time intervals"),
    (R + "  routes:\n  - matchers: [b=c]\n    active_time_intervals: [nope]\n" + A, 6,
     "undefined time interval 'nope' used in route"),
    (R + "receivers: [{name: a}, {name: a}]\n", 4, "notification config name 'a' is not unique"),
    (R + "  group_by: [a, a]\n" + A, 4, "duplicated label 'a' in group_by"),
    (R + "  group_by: ['...', a]\n" + A, 4, "wildcard group_by"),
    (R + "  group_interval: 0s\n" + A, 4, "group_interval cannot be zero"),
    (R + "  repeat_interval: 0s\n" + A, 4, "repeat_interval cannot be zero"),
    (R + "  routes:\n  - match_re: {a: '(x'}\n" + A, 5, "invalid regex"),
    (A, 1, "no routes provided"),
    (R + "receivers:\n- name: a\n  opsgenie_configs: [{api_key: k}]\n", 5,
     "receiver 'a' uses opsgenie_configs, which vigil does not support"),
    (R + "receivers:\n- name: a\n  email_configs: [{to: x@example.org}]\n", 6,
     "no global SMTP smarthost set"),
    (R + "receivers:\n- name: a\n  webhook_configs: [{send_resolved: false}]\n", 6,
     "one of url or url_file must be configured"),
    (R + "inhibit_rules:\n- source_matchers: ['a=\"b']\n" + A, 5, "unescaped double quote"),
    ("time_intervals:\n- name: x\n  time_intervals: [{weekdays: [funday]}]\n", 4,
     "funday is not a valid weekday"),
])
def test_alertmanagers_own_checks(tmp_path: Path, snippet: str, line: int, message: str) -> None:
    found = problems(write(tmp_path, "alerting:\n" + textwrap.indent(snippet, "  ")))
    want = f"{tmp_path / 'vigil.yaml'}:{line}:"
    assert any(p.startswith(want) and message in p for p in found), found


def test_alertmanager_config_and_inline_keys_do_not_mix_and_a_missing_file_is_named(tmp_path: Path) -> None:
    both = "alerting:\n  alertmanager_config: am/alertmanager.yml\n  route: {receiver: a}\n"
    found = problems(write(tmp_path, both, AM_FILE))
    assert any(":2: alerting.alertmanager_config: alertmanager_config is set: do not also write route" in p
               for p in found), found
    found = problems(write(tmp_path, "alerting:\n  alertmanager_config: nowhere.yml\n"))
    assert found == [f"{tmp_path / 'nowhere.yml'}: file not found"]


def test_maintenance_windows(tmp_path: Path) -> None:
    good = """\
    services: [{name: payments}]
    alerting:
      time_intervals:
      - name: sunday-night
        time_intervals: [{weekdays: [sunday], times: [{start_time: '02:00', end_time: '04:00'}]}]
      maintenance_windows:
      - name: db-upgrade
        services: [payments]
        time_intervals: [sunday-night]
      - name: one-off
        matchers: ['alertname="DiskFull"']
        starts_at: 2026-05-01T02:00:00Z
        ends_at: 2026-05-01T04:00:00+00:00
      silences: {max_duration: 7d}
    """
    cfg = load_config(write(tmp_path, good)).alerting
    assert [w.name for w in cfg.maintenance_windows] == ["db-upgrade", "one-off"]
    assert cfg.silences.max_duration == 7 * 86400
    vigil = tmp_path / "vigil.yaml"
    found = problems(write(tmp_path, good.replace("services: [payments]", "services: [paymnets]")))
    assert found == [f"{vigil}:8: alerting.maintenance_windows[0].services[0]: unknown service 'paymnets'; "
                     "known: payments"]
    found = problems(write(tmp_path, good.replace("04:00:00+00:00", "04:00:00")))
    assert found == [f"{vigil}:13: alerting.maintenance_windows[1].ends_at: give the time zone, e.g. "
                     "2026-05-01T02:00:00Z or +02:00; found 2026-05-01T04:00:00 without one"]
    both = good.replace("[sunday-night]", "[sunday-night]\n        starts_at: 2026-01-01T00:00:00Z")
    assert [p.split(": ", 2)[1:] for p in problems(write(tmp_path, both))] == [
        ["alerting.maintenance_windows[0]", "a maintenance window is either recurring (time_intervals) or "
         "one-off (starts_at and ends_at): give exactly one of the two"]]


def test_no_alerting_section_means_no_routing(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "services: []\n")).alerting
    assert cfg.route is None and cfg.receivers == []
