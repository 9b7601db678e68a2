"""The route tree, with the cases of Alertmanager's dispatch/route_test.go: which routes an alert
reaches, with which options (inherited down the tree), under which route key."""

from __future__ import annotations

import pytest
import yaml

from vigil.config.alerting import RouteConfig
from vigil.incidents.routing import (
    GROUP_INTERVAL,
    GROUP_WAIT,
    REPEAT_INTERVAL,
    build_route,
    format_labelset,
    go_quote,
    receivers_for,
    render_tree,
)

MATCH_TREE = """
receiver: 'notify-def'
routes:
- match:
    owner: 'team-A'
  receiver: 'notify-A'
  routes:
  - match:
      env: 'testing'
    receiver: 'notify-testing'
    group_by: [...]
  - match:
      env: "production"
    receiver: 'notify-productionA'
    group_wait: 1m
    continue: true
  - match_re:
      env: "produ.*"
      job: ".*"
    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']
- match_re:
    owner: 'team-(B|C)'
  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'
- match:
    group_by: 'role'
  group_by: ['role']
  routes:
  - match:
      env: 'testing'
    receiver: 'notify-testing'
    routes:
    - match:
        wait: 'long'
      group_wait: 2m
"""

MATCHERS_TREE = """
receiver: 'notify-def'
routes:
- matchers: ['{owner="team-A"}', '{level!="critical"}']
  receiver: 'notify-A'
  routes:
  - matchers: ['{env="testing"}', '{baz!~".*quux"}']
    receiver: 'notify-testing'
    group_by: [...]
  - matchers: ['{env="production"}']
    receiver: 'notify-productionA'
    group_wait: 1m
    continue: true
  - matchers: [ env=~"produ.*", job=~".*"]
    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']
- matchers: [owner=~"team-(B|C)"]
  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'
- matchers: [group_by="role"]
  group_by: ['role']
  routes:
  - matchers: ['{env="testing"}']
    receiver: 'notify-testing'
    routes:
    - matchers: [wait="long"]
      group_wait: 2m
"""


def tree(text: str):  # type: ignore[no-untyped-def]
    return build_route(RouteConfig.model_validate(yaml.safe_load(text)))


def opts(receiver: str, group_by: tuple[str, ...] = (), all_: bool = False, wait: float = GROUP_WAIT,
         interval: float = GROUP_INTERVAL, repeat: float = REPEAT_INTERVAL) -> tuple:
    return (receiver, frozenset(group_by), all_, wait, interval, repeat)


def matched(root, labels: dict[str, str]) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [((r.opts.receiver, r.opts.group_by, r.opts.group_by_all, r.opts.group_wait, r.opts.group_interval,
              r.opts.repeat_interval), r.key) for r in root.match(labels)]


def cases(a: str, bc: str, b_key: str) -> list:
    return [
        ({"owner": "team-A"}, [(opts("notify-A"), a)]),
        ({"owner": "team-A", "env": "unset"}, [(opts("notify-A"), a)]),
        ({"owner": "team-C"}, [(opts("notify-BC", ("foo", "bar"), wait=120), bc)]),
        ({"owner": "team-A", "env": "testing"}, [(opts("notify-testing", all_=True), None)]),
        ({"owner": "team-A", "env": "production"},
         [(opts("notify-productionA", wait=60), a + '/{env="production"}'),
          (opts("notify-productionB", ("job",), wait=30, interval=300, repeat=3600), a + "/" + b_key)]),
        ({"group_by": "role"}, [(opts("notify-def", ("role",)), '{}/{group_by="role"}')]),
        ({"env": "testing", "group_by": "role"},
         [(opts("notify-testing", ("role",)), '{}/{group_by="role"}/{env="testing"}')]),
        ({"env": "testing", "group_by": "role", "wait": "long"},
         [(opts("notify-testing", ("role",), wait=120),
           '{}/{group_by="role"}/{env="testing"}/{wait="long"}')]),
    ]


MATCH_CASES = cases('{}/{owner="team-A"}', '{}/{owner=~"^(?:team-(B|C))$"}',
                    '{env=~"^(?:produ.*)$",job=~"^(?:.*)$"}')
MATCHERS_CASES = cases('{}/{level!="critical",owner="team-A"}', '{}/{owner=~"team-(B|C)"}',
                       '{env=~"produ.*",job=~".*"}')


@pytest.mark.parametrize(("labels", "want"), MATCH_CASES)
def test_route_match(labels: dict[str, str], want: list) -> None:  # TestRouteMatch
    got = matched(tree(MATCH_TREE), labels)
    assert [g[0] for g in got] == [w[0] for w in want]
    assert [g[1] for g in got] == [w[1] if w[1] else '{}/{owner="team-A"}/{env="testing"}' for w in want]


@pytest.mark.parametrize(("labels", "want"), MATCHERS_CASES)
def test_route_matchers(labels: dict[str, str], want: list) -> None:  # TestRouteMatchers
    got = matched(tree(MATCHERS_TREE), labels)
    assert [g[0] for g in got] == [w[0] for w in want]
    testing = '{}/{level!="critical",owner="team-A"}/{baz!~".*quux",env="testing"}'
    assert [g[1] for g in got] == [w[1] if w[1] else testing for w in want]


def test_route_walk_is_depth_first() -> None:  # TestRouteWalk
    assert [r.opts.receiver for r in tree(MATCH_TREE).walk()] == [
        "notify-def", "notify-A", "notify-testing", "notify-productionA", "notify-productionB", "notify-BC",
        "notify-def", "notify-testing", "notify-testing"]


def test_group_by_all_is_inherited_until_overridden() -> None:  # TestInheritParentGroupByAll
    root = tree("""
routes:
- match: {env: parent}
  group_by: ['...']
  routes:
  - match: {env: child1}
  - match: {env: child2}
    group_by: ['foo']
""")
    parent = root.routes[0]
    assert parent.opts.group_by_all and parent.routes[0].opts.group_by_all
    assert not parent.routes[1].opts.group_by_all and parent.routes[1].opts.group_by == {"foo"}


def test_explicit_empty_group_by_overrides_the_parent_and_time_intervals_are_not_inherited() -> None:
    root = tree("""
receiver: r
group_by: [alertname]
routes:
- match: {a: '1'}
  group_by: []
  mute_time_intervals: [night]
  routes:
  - match: {b: '1'}
""")
    child = root.routes[0]
    assert child.opts.group_by == frozenset() and child.opts.mute_time_intervals == ("night",)
    assert child.routes[0].opts.group_by == frozenset() and child.routes[0].opts.mute_time_intervals == ()


def test_group_key_and_receivers_as_amtool_prints_them() -> None:
    root = tree(MATCH_TREE)
    route = root.match({"owner": "team-C", "foo": "x", "bar": 'y"z'})[0]
    labels = route.group_labels({"owner": "team-C", "foo": "x", "bar": 'y"z'})
    assert route.group_key(labels) == '{}/{owner=~"^(?:team-(B|C))$"}:{bar="y\\"z", foo="x"}'
    assert receivers_for(root, {"owner": "team-A", "env": "production"}) == ["notify-productionA",
                                                                            "notify-productionB"]
    assert receivers_for(root, {"nobody": "x"}) == ["notify-def"]
    assert root.group_key({}) == "{}:{}"
    assert go_quote("tab\there \x01 é") == '"tab\\there \\x01 é"'
    assert format_labelset({"b": "2", "a": "1"}) == '{a="1", b="2"}'


def test_the_tree_renders_with_matches_marked() -> None:
    root = tree(MATCH_TREE)
    hits = root.match({"owner": "team-A", "env": "production"})
    lines = render_tree(root, lambda r: r in hits)
    assert lines[0].startswith("(root)  receiver: notify-def")
    assert [line.strip("│├└─ ") for line in lines if line.endswith("<-- matched")] == [
        '{env="production"}  receiver: notify-productionA  group_by: []  continue: true <-- matched',
        '{env=~"^(?:produ.*)$",job=~"^(?:.*)$"}  receiver: notify-productionB  group_by: [job] <-- matched']
    assert len(lines) == 9
