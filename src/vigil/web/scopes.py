"""Which scope each endpoint needs: the one place it is declared.

`read` sees; `ingest` sends samples and alerts in; `operate` acts on incidents, silences, forecasts,
notifications, the kill switch and pending actions; `admin` manages keys and configuration and holds
every other scope too. A route the table does not name needs `admin` (fail closed), and the
authorisation tests refuse any route missing from it, so a new endpoint cannot ship without a
decision here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

READ, INGEST, OPERATE, ADMIN = "read", "ingest", "operate", "admin"
SCOPES = (READ, INGEST, OPERATE, ADMIN)
AUTHENTICATED = "authenticated"  # any valid key or session, whatever its scopes

# Served without a key: probes, Prometheus (unless server.metrics_require_key), the API description,
# signed incident links (the token is the authorisation) and the login itself.
PUBLIC: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/openapi.json"), ("GET", "/docs"),
    ("GET", "/links/{token}"), ("POST", "/links/{token}"), ("POST", "/api/v1/session"),
    ("GET", "/"),  # the dashboard's page (its files under /ui are a static mount): no data until it signs in
})
METRICS = ("GET", "/metrics")  # public unless configured otherwise; `read` then

ROUTE_SCOPES: dict[tuple[str, str], str] = {
    # sessions
    ("GET", "/api/v1/session"): AUTHENTICATED,
    ("DELETE", "/api/v1/session"): AUTHENTICATED,
    # reading
    **{("GET", p): READ for p in (
        "/api/v1/services", "/api/v1/services/{name}", "/api/v1/services/{name}/slo",
        "/api/v1/services/{name}/latency", "/api/v1/series", "/api/v1/query", "/api/v1/events",
        "/api/v1/signals", "/api/v1/alerts", "/api/v1/decisions", "/api/v1/scaling/decisions",
        "/api/v1/forecasts", "/api/v1/probes", "/api/v1/incidents", "/api/v1/incidents/{incident_id}",
        "/api/v1/oncall", "/api/v1/oncall/{schedule}", "/api/v1/escalation-policies", "/api/v1/reports/{kind}",
        "/api/v1/silences", "/api/v1/silences/{silence_id}", "/api/v2/silences", "/api/v2/silence/{silence_id}",
        "/api/v2/alerts", "/api/v2/alerts/groups", "/api/v2/status", "/api/v1/notifications",
        "/api/v1/notifications/endpoints", "/api/v1/events/stream", "/api/v1/audit", "/api/v1/automation",
        "/api/v1/breakers", "/api/v1/runbooks", "/api/v1/maintenance", "/api/v1/actions",
        "/api/v1/actions/{action_id}", METRICS[1])},
    # sending in
    **{("POST", p): INGEST for p in (
        "/api/v1/samples", "/api/v2/alerts", "/api/v1/alerts/webhook", "/api/v1/alerts", "/api/v1/alerts/pagerduty",
        "/v2/enqueue")},
    # acting
    **{("POST", p): OPERATE for p in (
        "/api/v1/incidents/{incident_id}/acknowledge", "/api/v1/incidents/{incident_id}/resolve",
        "/api/v1/incidents/{incident_id}/assign", "/api/v1/incidents/{incident_id}/notes",
        "/api/v1/silences", "/api/v2/silences", "/api/v1/forecasts/{series:path}/rollback",
        "/api/v1/notifications/requeue", "/api/v1/automation", "/api/v1/actions/{action_id}/approve",
        "/api/v1/actions/{action_id}/deny")},
    ("DELETE", "/api/v1/silences/{silence_id}"): OPERATE,
    ("DELETE", "/api/v2/silence/{silence_id}"): OPERATE,
    # administering
    ("POST", "/-/reload"): ADMIN,
    ("GET", "/api/v1/keys"): ADMIN,
    ("GET", "/api/v1/config"): ADMIN,  # masked, but the whole configuration: for those who administer it
}

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def required_scope(method: str, path: str) -> str:
    """The scope a request to this route template needs (HEAD as GET); `admin` when undeclared."""
    return ROUTE_SCOPES.get(("GET" if method == "HEAD" else method, path), ADMIN)


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s] if path.strip("/") else []


def _fits(template: list[str], path: list[str]) -> bool:
    """Segment by segment, by hand (no regular expression meets the request path): `{x}` takes one
    segment, `{x:path}` one or more."""
    for i, part in enumerate(template):
        if part.startswith("{") and part.endswith(":path}"):
            rest = template[i + 1:]
            return len(path) - i > len(rest) and all(_fits([t], [p]) for t, p in zip(rest, path[len(path) - len(rest):],
                                                                                   strict=True))
        if i >= len(path) or not (part == path[i] or (part.startswith("{") and part.endswith("}"))):
            return False
    return len(path) == len(template)


class RouteTable:
    """Which declared template a request path is: the router's own answer is an implementation detail
    of the web framework's version, so the path is matched against the declarations here, literal
    segments first. A path that fits none needs `admin`."""

    def __init__(self, entries: Iterable[tuple[str, str]]) -> None:
        by_method: dict[str, list[tuple[int, list[str], str]]] = {}
        for order, (method, template) in enumerate(entries):
            parts = _segments(template)
            literal = sum(not p.startswith("{") for p in parts)
            by_method.setdefault(method, []).append((-literal * 10_000 + order, parts, template))
        self._by_method = {m: sorted(v, key=lambda e: e[0]) for m, v in by_method.items()}

    def template(self, method: str, path: str) -> str | None:
        if len(path) > MAX_PATH_CHARS:
            return None
        parts = _segments(path)
        for _, template, text in self._by_method.get("GET" if method == "HEAD" else method, ()):
            if _fits(template, parts):
                return text
        return None


MAX_PATH_CHARS = 20_000
TABLE = RouteTable([*PUBLIC, *ROUTE_SCOPES])


def app_routes(app: Any) -> Iterator[tuple[str, str]]:
    """(method, full path template) of every route an app serves, whatever the framework keeps them in."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # FastAPI's included routers
            for ctx in contexts():
                original = ctx.original_route
                path = getattr(ctx, "path", None) or ctx.path_format
                for m in getattr(original, "methods", None) or ():
                    yield m, path
        elif getattr(route, "methods", None):
            for m in route.methods:
                yield m, route.path


def allows(granted: frozenset[str], needed: str) -> bool:
    return needed == AUTHENTICATED or ADMIN in granted or needed in granted
