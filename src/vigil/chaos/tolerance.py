"""Tolerances, as Chaos Toolkit defines them: what a probe's output must be for the system to be normal.

- a boolean, number or string: equal to the output; on an `http` output, a number is the status and a
  string the body; on a `process` output, a number is the exit status and a string the (stripped) stdout;
- a list: the output (status, exit status) is one of its items;
- `{type: range, range: [lo, hi], target: PATH}`: a number between lo and hi, both included;
- `{type: regex, pattern: P, target: PATH}`: the text matches P (RE2: linear time, no backtracking);
- `{type: jsonpath, path: "$.a.b[0]", expect: V, target: PATH}`: the value at a plain path (dots and
  [index] only: no filters or wildcards) exists, and equals V when `expect` is given.

`target` is a dotted path into the output (`status`, `body.status`, `phases.sustain.p99_ms`); without it a
range reads the status of an http/process output, a regex and a jsonpath the body (stdout)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import re2

MISSING = object()


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _provider_output(output: Any) -> str | None:
    """'http' or 'process' when `output` has the shape of those providers' outputs."""
    if isinstance(output, dict) and "status" in output:
        if "body" in output:
            return "http"
        if "stdout" in output:
            return "process"
    return None


def pick(value: Any, path: str) -> Any:
    """The value at a dotted path (`a.b.0.c`, `$.a.b[0]`); MISSING when there is none."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    text = text.replace("[", ".").replace("]", "")
    for part in (p for p in text.split(".") if p):
        if isinstance(value, dict):
            if part not in value:
                return MISSING
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit():
            idx = int(part)
            if not -len(value) <= idx < len(value):
                return MISSING
            value = value[idx]
        else:
            return MISSING
    return value


def _check_path(path: Any, what: str) -> None:
    if not isinstance(path, str) or not path.strip():
        raise ValueError(f"{what} must be a path such as body.status or $.items[0].name")
    for bad in ("*", "?", "(", "..", "@"):
        if bad in path:
            raise ValueError(f"{what} {path!r}: only plain paths (dots and [index]) are supported, "
                             f"not filters, wildcards or recursive descent")


@dataclass(frozen=True)
class Tolerance:
    spec: Any

    def met(self, output: Any) -> bool:
        spec, kind = self.spec, _provider_output(output)
        if isinstance(spec, bool):
            return isinstance(output, bool) and output == spec
        if _is_number(spec):
            value = output.get("status") if kind else output
            return _is_number(value) and math.isclose(value, spec)
        if isinstance(spec, str):
            value = output.get("stdout", "").strip() if kind == "process" else \
                output.get("body") if kind == "http" else output
            return value == spec
        if isinstance(spec, list):
            value = output.get("status") if kind else output
            return value in spec
        return self._typed(spec, output, kind)

    def _typed(self, spec: dict[str, Any], output: Any, kind: str | None) -> bool:
        target = spec.get("target")
        kind_of = spec["type"]
        if target is not None:
            value = pick(output, target)
        elif kind_of == "range":
            value = output.get("status") if kind else output
        else:
            value = output.get("stdout") if kind == "process" else output.get("body") if kind == "http" else output
        if value is MISSING:
            return False
        if kind_of == "range":
            lo, hi = spec["range"]
            return _is_number(value) and lo <= value <= hi and not math.isnan(value)
        if kind_of == "regex":
            return isinstance(value, str) and re2.search(spec["pattern"], value) is not None
        found = pick(value, spec["path"])
        if found is MISSING:
            return False
        return "expect" not in spec or found == spec["expect"] or \
            (isinstance(spec["expect"], list) and [found] == spec["expect"])


def parse_tolerance(spec: Any) -> Tolerance:
    """Check a tolerance's shape (at load time, so a typo fails before anything runs)."""
    if isinstance(spec, (bool, int, float, str)):
        return Tolerance(spec)
    if isinstance(spec, list):
        if not spec:
            raise ValueError("a tolerance list needs at least one value")
        return Tolerance(spec)
    if not isinstance(spec, dict):
        raise ValueError("a tolerance is a value, a list of values, or {type: range|regex|jsonpath, ...}")
    kind = spec.get("type")
    allowed = {"range": {"type", "range", "target"}, "regex": {"type", "pattern", "target"},
               "jsonpath": {"type", "path", "expect", "target"}}
    if kind not in allowed:
        raise ValueError(f"tolerance type must be range, regex or jsonpath; found {kind!r} (a probe as "
                         f"a tolerance is not supported)")
    unknown = sorted(set(spec) - allowed[kind])
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} in a {kind} tolerance; "
                         f"it takes {', '.join(sorted(allowed[kind]))}")
    if "target" in spec:
        _check_path(spec["target"], "target")
    if kind == "range":
        rng = spec.get("range")
        if not (isinstance(rng, list) and len(rng) == 2 and all(_is_number(x) for x in rng) and rng[0] <= rng[1]):
            raise ValueError("a range tolerance needs range: [low, high], two numbers, low <= high")
    elif kind == "regex":
        pattern = spec.get("pattern")
        if not isinstance(pattern, str):
            raise ValueError("a regex tolerance needs pattern: a string")
        try:
            re2.compile(pattern)
        except re2.error as exc:
            raise ValueError(f"pattern {pattern!r} is not a valid RE2 expression: {exc}") from None
    else:
        _check_path(spec.get("path"), "path")
    return Tolerance(spec)
