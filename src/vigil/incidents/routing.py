"""The route tree, with Alertmanager's semantics (dispatch/route.go in 0.25).

Each route inherits its parent's options (receiver, group_by, group_wait 30s, group_interval 5m,
repeat_interval 4h at the root) and overrides what it sets. An alert enters at the root and walks
down depth-first, left to right: the first child that matches takes it, unless that child has
`continue: true`, in which case its later siblings are tried as well; a route none of whose
children matched is itself the match. Mute and active time intervals are not inherited.

A route's key (`{}/{env="prod"}/...`, its matchers and its ancestors') and the group labels make
the group key Alertmanager puts in every notification (`groupKey` in the webhook body)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vigil.incidents.matchers import Matcher, format_matchers, from_match, parse_matcher_lines, sort_matchers

GROUP_WAIT, GROUP_INTERVAL, REPEAT_INTERVAL = 30.0, 300.0, 4 * 3600.0


@dataclass(frozen=True, slots=True)
class RouteOpts:
    receiver: str
    group_by: frozenset[str] = frozenset()
    group_by_all: bool = False  # group_by: ['...']
    group_wait: float = GROUP_WAIT
    group_interval: float = GROUP_INTERVAL
    repeat_interval: float = REPEAT_INTERVAL
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()


@dataclass(eq=False)
class Route:
    opts: RouteOpts
    matchers: list[Matcher]
    continue_: bool = False
    parent: "Route | None" = None
    routes: list["Route"] = field(default_factory=list)
    key: str = ""  # see key_of()
    id: str = ""  # the key plus the position among its siblings: unique in a tree
    depth: int = 0

    def match(self, labels: Mapping[str, str]) -> list["Route"]:
        """The routes an alert with these labels goes to, in Alertmanager's order."""
        for m in self.matchers:
            if not m.matches(labels):
                return []
        found: list[Route] = []
        for child in self.routes:
            hits = child.match(labels)
            found += hits
            if hits and not child.continue_:
                break
        return found or [self]

    def walk(self) -> Iterator["Route"]:
        """Depth first, parents before children (Alertmanager's Walk)."""
        yield self
        for child in self.routes:
            yield from child.walk()

    def path(self) -> list["Route"]:
        """From the root down to this route."""
        out: list[Route] = []
        node: Route | None = self
        while node is not None:
            out.append(node)
            node = node.parent
        return out[::-1]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The alert's labels this route groups by (all of them for '...'); absent ones are left out."""
        if self.opts.group_by_all:
            return dict(labels)
        return {k: v for k, v in labels.items() if k in self.opts.group_by}

    def group_key(self, group_labels: Mapping[str, str]) -> str:
        return f"{self.key}:{format_labelset(group_labels)}"

    def describe(self) -> str:
        """One line: the matchers, receiver and options (for `vigil routes test --tree`)."""
        o = self.opts
        group = "..." if o.group_by_all else ",".join(sorted(o.group_by))
        parts = [format_matchers(self.matchers) if self.parent is not None else "(root)",
                 f"receiver: {o.receiver}", f"group_by: [{group}]"]
        if self.continue_:
            parts.append("continue: true")
        if o.mute_time_intervals:
            parts.append(f"mute: {','.join(o.mute_time_intervals)}")
        if o.active_time_intervals:
            parts.append(f"active: {','.join(o.active_time_intervals)}")
        return "  ".join(parts)


def build_route(config: Mapping[str, Any] | Any, parent: Route | None = None, position: int = 0) -> Route:
    """A route tree from its configuration (a mapping as in YAML, or config.alerting.RouteConfig)."""
    c = config if isinstance(config, Mapping) else config.model_dump(by_alias=True, exclude_unset=True)
    base = parent.opts if parent is not None else RouteOpts(receiver="")
    group_by = c.get("group_by")
    if group_by is not None:
        all_ = list(group_by) == ["..."]
        group = frozenset() if all_ else frozenset(group_by)
    else:
        all_, group = base.group_by_all, base.group_by
    opts = RouteOpts(
        receiver=c.get("receiver") or base.receiver, group_by=group, group_by_all=all_,
        group_wait=_seconds(c.get("group_wait"), base.group_wait),
        group_interval=_seconds(c.get("group_interval"), base.group_interval),
        repeat_interval=_seconds(c.get("repeat_interval"), base.repeat_interval),
        mute_time_intervals=tuple(c.get("mute_time_intervals") or ()),
        active_time_intervals=tuple(c.get("active_time_intervals") or ()))
    matchers = sort_matchers(from_match(c.get("match"), c.get("match_re"))
                             + parse_matcher_lines(c.get("matchers") or []))
    route = Route(opts, matchers, bool(c.get("continue", False)), parent)
    route.depth = 0 if parent is None else parent.depth + 1
    route.key = format_matchers(matchers) if parent is None else f"{parent.key}/{format_matchers(matchers)}"
    route.id = route.key if parent is None else f"{route.key}/{position}"
    route.routes = [build_route(child, route, i) for i, child in enumerate(c.get("routes") or [])]
    return route


def _seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    from vigil.config.alerting import parse_am_duration  # a mapping written by hand in a test

    return parse_am_duration(value)


def receivers_for(root: Route, labels: Mapping[str, str]) -> list[str]:
    """The receivers an alert reaches, each once, in order (as `amtool config routes test` prints)."""
    seen: list[str] = []
    for r in root.match(labels):
        if r.opts.receiver not in seen:
            seen.append(r.opts.receiver)
    return seen


def render_tree(root: Route, mark: Callable[[Route], bool] | None = None) -> list[str]:
    """The tree as lines, like `amtool config routes show`; `mark` flags routes (e.g. the matched)."""
    lines: list[str] = []

    def visit(route: Route, prefix: str, last: bool, top: bool) -> None:
        flag = " <-- matched" if mark is not None and mark(route) else ""
        branch = "" if top else ("└── " if last else "├── ")
        lines.append(f"{prefix}{branch}{route.describe()}{flag}")
        inner = prefix if top else prefix + ("    " if last else "│   ")
        for i, child in enumerate(route.routes):
            visit(child, inner, i == len(route.routes) - 1, False)

    visit(root, "", True, True)
    return lines


def format_labelset(labels: Mapping[str, str]) -> str:
    """`{a="x", b="y"}` as Alertmanager 0.25's model.LabelSet.String() writes it: each pair formatted
    (the value Go-quoted), then the pairs sorted as strings, so `a1="2"` comes before `a="1"`
    (checked against the real Alertmanager's groupKey in test_routing_alertmanager.py)."""
    return "{" + ", ".join(sorted(f"{k}={go_quote(v)}" for k, v in labels.items())) + "}"


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}


def go_quote(s: str) -> str:
    """Go's strconv.Quote: printable characters as they are, the rest escaped."""
    out = ['"']
    for ch in s:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def routes_by_id(root: Route) -> dict[str, Route]:
    return {r.id: r for r in root.walk()}


def route_names(routes: Sequence[Route]) -> list[str]:
    return [r.opts.receiver for r in routes]


def parse_test_labels(args: Sequence[str]) -> dict[str, str]:
    """`name=value` arguments (quotes optional, as amtool takes them) -> labels."""
    from vigil.incidents.matchers import MatcherError, parse_matcher

    labels: dict[str, str] = {}
    for arg in args:
        m = parse_matcher(arg)
        if m.op != "=":
            raise MatcherError(f"{arg!r}: give label values as name=value (an alert has values, not "
                               "patterns)")
        labels[m.name] = m.value
    return labels


def explain(root: Route, labels: Mapping[str, str]) -> list[str]:
    """What `vigil routes test` prints: the receivers (comma-separated, as amtool prints them), then
    for each matched route its path from the root and the group the alert would join."""
    hits = root.match(labels)
    lines = [",".join(receivers_for(root, labels))]
    for r in hits:
        path = " > ".join("(root)" if p.parent is None else format_matchers(p.matchers) for p in r.path())
        group = r.group_labels(labels)
        lines.append(f"  {r.opts.receiver}: {path}")
        o = r.opts
        lines.append(f"    group_key {r.group_key(group)}  group_wait {o.group_wait:g}s  "
                     f"group_interval {o.group_interval:g}s  repeat_interval {o.repeat_interval:g}s")
    return lines


def routes_test(alerting: Any, args: Sequence[str], tree: bool,
                verify: str | None) -> tuple[list[str], str, int]:
    """`vigil routes test`: (lines to print, a problem to report, exit code). Exit 2 for bad input,
    1 when --verify-receivers does not hold (amtool's --verify.receivers), else 0."""
    if alerting.route is None:
        return [], "no alerting.route configured (alerting: route: or alertmanager_config:)", 2
    root = build_route(alerting.route)
    try:
        labels = parse_test_labels(args)
    except ValueError as exc:
        return [], str(exc), 2
    hits = root.match(labels) if args else []
    out = render_tree(root, lambda r: r in hits) if tree else []
    if args:
        out += explain(root, labels)
    got = receivers_for(root, labels)
    if verify is not None and args and got != [v for v in verify.split(",") if v]:
        return out, f"WARNING: expected receivers {verify!r}, got {','.join(got)!r}", 1
    return out, "", 0
