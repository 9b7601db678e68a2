"""Schemathesis over the complete OpenAPI description, against a real server on loopback with the
engine running: no 5xx, no status the description does not list, content types and bodies as
documented. Bounded: a few dozen generated requests per operation."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.conftest import API_KEY, CONFIG
from vigil.app import build_app
from vigil.config import parse_config
from vigil.web.threaded import served_in_thread

pytestmark = pytest.mark.slow
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """vigil serving on its own thread and event loop, as `vigil up` runs it."""
    db = Path(tmp_path_factory.mktemp("fuzz")) / "vigil.db"
    app, engine = build_app(parse_config(CONFIG.format(db=db), env={}), collectors=[])
    with served_in_thread(app, engine) as url:
        yield url


@schemathesis.serializer("application/openmetrics-text")
def _openmetrics(ctx, value):  # type: ignore[no-untyped-def]
    """Send OpenMetrics bodies as text, as schemathesis does for text/plain."""
    return {"data": value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")}


def _description() -> tuple[dict, set[str]]:
    """The OpenAPI description as the app builds it (over a throwaway store), and the path of every
    route the app serves: needed when tests are collected, before any server runs. A test checks the
    served description is the same."""
    from fastapi.routing import APIRoute

    with tempfile.TemporaryDirectory() as tmp:
        app, engine = build_app(parse_config(CONFIG.format(db=Path(tmp) / "v.db"), env={}), collectors=[])
        try:
            routes = {r.path.replace("{series:path}", "{series}") for r in app.routes
                      if isinstance(r, APIRoute) and r.include_in_schema}
            return app.openapi(), routes
        finally:
            engine.store.close()


DESCRIPTION, ROUTES = _description()
schema = schemathesis.openapi.from_dict(DESCRIPTION)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_description(case, served: str) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(base_url=served, headers={"Authorization": f"Bearer {API_KEY}"}, checks=CHECKS,
                           timeout=30)


def test_the_description_covers_every_route(served: str) -> None:
    import httpx

    assert httpx.get(f"{served}/openapi.json").json() == DESCRIPTION
    paths = set(DESCRIPTION["paths"])
    assert {"/healthz", "/readyz", "/metrics", "/api/v1/samples", "/api/v1/query", "/api/v1/series",
            "/api/v1/forecasts/{series}/rollback"} <= paths
    assert ROUTES <= paths  # no route is left out of the description (and so out of the fuzzing)
