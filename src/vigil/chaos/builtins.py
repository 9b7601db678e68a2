"""vigil's own actions and probes (`provider: {type: vigil, func: NAME, arguments: {...}}`).

Each is a typed function: a pydantic model of its arguments (checked with the whole experiment before
anything runs), whether it changes something (an action: its targets must allow chaos), and the longest
it may take (its timeout unless the provider sets one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.chaos.scope import Scope
from vigil.registry import Registry


@dataclass
class Context:
    """What a running activity may use: the targets, and one HTTP client (no proxies, no redirects)."""

    scope: Scope
    http: httpx.AsyncClient
    what: str = ""  # the running activity, for messages


def new_http_client() -> httpx.AsyncClient:
    # trust_env=False: no proxy from the environment can carry an experiment's traffic off this machine.
    # No keep-alive: each request is a new client's, so a probe after a kill sees what a new user sees,
    # not a pooled connection to the process that is gone.
    return httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=10.0,
                             limits=httpx.Limits(max_keepalive_connections=0))


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def targets(self, scope: Scope, what: str, acting: bool) -> list[str]:
        """Check what this call touches (ChaosRefused if it may not) and say it in words."""
        return []


class Target(Params):
    """A service by its configured name (with -c), or a loopback URL."""

    service: str | None = Field(None, description="a service of the vigil.yaml given with -c")
    url: str | None = Field(None, description="the service's base URL, on loopback")

    @model_validator(mode="after")
    def _one(self) -> "Target":
        if (self.service is None) == (self.url is None):
            raise ValueError("give either service (a configured service's name) or url, not both")
        return self

    def base(self, scope: Scope, what: str, acting: bool) -> str:
        if self.service is not None:
            return scope.base_url(scope.service(self.service, acting, what), what).rstrip("/")
        assert self.url is not None
        return scope.url(self.url, acting, what).rstrip("/")

    def targets(self, scope: Scope, what: str, acting: bool) -> list[str]:
        base = self.base(scope, what, acting)
        return [f"service {self.service} at {base}" if self.service else base]


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class Builtin(Generic[P]):
    params: type[P]
    run: Callable[[P, Context], Awaitable[Any]]
    acts: bool
    bound_s: Callable[[P], float]
    summary: str

    def parse(self, arguments: dict[str, Any]) -> P:
        return self.params.model_validate(arguments)


def builtin(params: type[P], *, acts: bool, bound_s: Callable[[P], float] | float = 30.0,
            ) -> Callable[[Callable[[P, Context], Awaitable[Any]]], Builtin[P]]:
    bound = bound_s if callable(bound_s) else (lambda _p, b=float(bound_s): b)

    def wrap(fn: Callable[[P, Context], Awaitable[Any]]) -> Builtin[P]:
        return Builtin(params, fn, acts, bound, (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "")
    return wrap


BUILTINS: Registry[Builtin[Any]] = Registry("vigil chaos function", {
    "inject_fault": "vigil.chaos.faults:inject_fault",
    "inject_latency": "vigil.chaos.faults:inject_latency",
    "inject_errors": "vigil.chaos.faults:inject_errors",
    "inject_crash": "vigil.chaos.faults:inject_crash",
    "inject_hang": "vigil.chaos.faults:inject_hang",
    "inject_leak": "vigil.chaos.faults:inject_leak",
    "clear_faults": "vigil.chaos.faults:clear_faults",
    "stress_cpu": "vigil.chaos.stress:stress_cpu",
    "stress_memory": "vigil.chaos.stress:stress_memory",
    "kill_replica": "vigil.chaos.kill:kill_replica",
    "replicas": "vigil.chaos.kill:replicas",
    "load_surge": "vigil.chaos.surge:load_surge",
    "http_status": "vigil.chaos.probes:http_status",
    "http_latency": "vigil.chaos.probes:http_latency",
    "http_json_field": "vigil.chaos.probes:http_json_field",
    "service_health": "vigil.chaos.vigil_api:service_health",
    "incident_open": "vigil.chaos.vigil_api:incident_open",
    "alerts_firing": "vigil.chaos.vigil_api:alerts_firing",
    "metric": "vigil.chaos.vigil_api:metric",
})


def load_builtin(name: str) -> Builtin[Any]:
    if name not in BUILTINS:
        raise ValueError(f"unknown vigil function {name!r}; known: {', '.join(BUILTINS.kinds())}")
    return BUILTINS.load(name)
