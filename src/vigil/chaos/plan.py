"""From an experiment to a plan: every activity resolved (refs, `${...}`), its provider bound, its arguments
checked and its targets cleared by the scope. Every problem is found before the first activity runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from vigil.chaos.builtins import Context, load_builtin
from vigil.chaos.experiment import (
    Activity,
    Experiment,
    ExperimentError,
    HttpProvider,
    Loaded,
    ProcessProvider,
    PythonProvider,
    Ref,
    VigilProvider,
)
from vigil.chaos.providers import Call, http_call, process_call, python_call
from vigil.chaos.scope import Scope
from vigil.chaos.tolerance import Tolerance, parse_tolerance
from vigil.config.loader import ConfigProblem, Document, format_path

HYPOTHESIS, METHOD, ROLLBACKS = "steady-state-hypothesis", "method", "rollbacks"


@dataclass
class Step:
    section: str
    index: int
    activity: Activity  # with ${...} substituted
    written: dict[str, Any]  # as written in the file: what the journal shows (no resolved secrets)
    call: Call
    timeout_s: float
    tolerance: Tolerance | None
    targets: list[str]

    @property
    def label(self) -> str:
        return f"{_where(self.section, self.index)} {self.activity.type} {self.activity.name!r}"

    async def run(self, ctx: Context) -> Any:
        return await self.call(ctx)


@dataclass
class Plan:
    experiment: Experiment
    written: dict[str, Any]
    scope: Scope
    configuration: dict[str, Any]
    secrets: set[str]  # values to mask wherever shown
    hypothesis: list[Step] = field(default_factory=list)
    method: list[Step] = field(default_factory=list)
    rollbacks: list[Step] = field(default_factory=list)

    def steps(self) -> list[Step]:
        return self.hypothesis + self.method + self.rollbacks


def _bind(act: Activity, scope: Scope, what: str) -> tuple[Call, float, list[str]]:
    p = act.provider
    if isinstance(p, HttpProvider):
        call, targets = http_call(p, scope, act.type == "action", what)
        timeout = max(p.timeout) if isinstance(p.timeout, tuple) else p.timeout
        return call, timeout + 1.0, targets
    if isinstance(p, ProcessProvider):
        call, targets = process_call(p)
        return call, (p.timeout or 30.0) + 1.0, targets
    if isinstance(p, PythonProvider):
        call, targets = python_call(p)
        return call, p.timeout or 60.0, targets
    assert isinstance(p, VigilProvider)
    fn = load_builtin(p.func)
    params = fn.parse(p.arguments)
    targets = params.targets(scope, what, fn.acts)

    async def run(ctx: Context) -> Any:
        return await fn.run(params, ctx)

    return run, p.timeout or fn.bound_s(params), targets


def _argument_problems(exc: ValidationError, doc: Document, path: tuple[str | int, ...]) -> list[ConfigProblem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = path + ("provider", "arguments") + tuple(x for x in err["loc"] if not str(x).startswith("function-"))
        msg = err["msg"].replace("Value error, ", "")
        if err["type"] == "extra_forbidden":
            msg = "unknown argument; check its spelling (docs/chaos.md lists each function's arguments)"
        elif err["type"] == "missing":
            msg = "required argument is missing"
        elif "input" in err and not isinstance(err["input"], dict):
            msg += f"; found {err['input']!r}"
        out.append(ConfigProblem(doc.file, doc.line(loc), format_path(loc), msg))
    return out


def build_plan(loaded: Loaded, scope: Scope) -> Plan:
    exp, doc = loaded.experiment, loaded.doc
    plan = Plan(exp, loaded.written, scope, loaded.configuration, loaded.secrets)
    for entry, attr in (("vigil_url", "api_url"), ("vigil_api_key", "api_key")):
        if loaded.configuration.get(entry) is not None:
            setattr(scope, attr, str(loaded.configuration[entry]))
    problems: list[ConfigProblem] = []
    declared: dict[str, tuple[Activity, dict[str, Any]]] = {}
    hyp = exp.steady_state_hypothesis
    sections: list[tuple[str, list[Activity | Ref], list[Step]]] = [
        (HYPOTHESIS, list(hyp.probes) if hyp else [], plan.hypothesis),
        (METHOD, list(exp.method), plan.method), (ROLLBACKS, list(exp.rollbacks), plan.rollbacks)]
    for section, items, steps in sections:
        for i, item in enumerate(items):
            path: tuple[str | int, ...] = (section, "probes", i) if section == HYPOTHESIS else (section, i)
            if isinstance(item, Ref):
                act, written = declared[item.ref]
            else:
                act, written = item, _get(loaded.written, path)
                declared.setdefault(act.name, (act, written))
            what = f"{_where(section, i)} {act.type} {act.name!r}"
            try:
                call, timeout, targets = _bind(act, scope, what)
            except ValidationError as exc:
                problems += _argument_problems(exc, doc, path)
                continue
            except ValueError as exc:  # ChaosRefused included: nothing runs when one activity may not
                msg = str(exc).removeprefix(what + ": ")  # the problem names the place already
                problems.append(ConfigProblem(doc.file, doc.line(path + ("provider",)),
                                              format_path(path + ("provider",)), f"{act.name!r}: {msg}"))
                continue
            tolerance = parse_tolerance(act.tolerance) if act.tolerance is not None else None
            steps.append(Step(section, i, act, written, call, timeout, tolerance, targets))
    if problems:
        raise ExperimentError(problems)
    return plan


def _where(section: str, index: int) -> str:
    return f"{section}.probes[{index}]" if section == HYPOTHESIS else f"{section}[{index}]"


def _get(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data
