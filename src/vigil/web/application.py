"""The FastAPI application around an engine: routers, the OpenAPI description (security schemes,
error responses), the docs UI from packaged files, error handlers and the concurrency cap."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from vigil import __version__
from vigil.keys.book import StoreKeyBook
from vigil.store.errors import STORE_ERRORS
from vigil.web.alerts_in import alerts_in_router
from vigil.web.api import api_router, public_router
from vigil.web.auth import ApiKeys, EarlyRefusals
from vigil.web.console import install_console
from vigil.web.docs import install_docs
from vigil.web.errors import StoreOutage
from vigil.web.guardrails import guardrails_router
from vigil.web.headers import SecurityHeaders
from vigil.web.incidents import incidents_router
from vigil.web.keys_api import keys_router
from vigil.web.limits import BodyCap, ConcurrencyCap, WebLimits
from vigil.web.links import links_router
from vigil.web.live import LiveFeed, live_router
from vigil.web.login import session_router
from vigil.web.oncall import oncall_router
from vigil.web.reads import ApiReads
from vigil.web.remediation import remediation_router
from vigil.web.reports import reports_router
from vigil.web.service_views import service_views_router
from vigil.web.silences import alerting_router

DESCRIPTION = ("vigil's REST API. Every /api/v1 endpoint needs an API key: `Authorization: Bearer <key>` "
               "or `X-API-Key: <key>`, or the session cookie from `POST /api/v1/session` (then state-changing "
               "requests need `X-CSRF-Token`). A key holds scopes (read, ingest, operate, admin). Over the "
               "concurrency cap the answer is 429 with Retry-After; while the store is unavailable, 503 with "
               "Retry-After.")


def api_app(engine: Any, keys: ApiKeys, limits: WebLimits | None = None) -> FastAPI:
    limits = limits or WebLimits()
    keys.attach(engine, StoreKeyBook(engine.store, engine.writer))
    # Every route passes the guard (public ones through vigil.web.scopes.PUBLIC): none can skip it.
    app = FastAPI(title="vigil", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None,
                  dependencies=[Depends(keys.guard)])
    reads = ApiReads()  # the short reads' own thread (vigil.web.reads)
    outage = StoreOutage()
    for exc_type in STORE_ERRORS:
        app.add_exception_handler(exc_type, outage.handler)
    app.add_middleware(BodyCap, limits=limits)
    app.add_middleware(EarlyRefusals, keys=keys)  # a key over its rate limit: 429 before routing
    app.add_middleware(ConcurrencyCap, limits=limits)
    app.add_middleware(SecurityHeaders)  # outermost: refusals get the headers too
    app.include_router(public_router(engine))
    app.include_router(session_router(keys))
    app.include_router(keys_router(engine, keys))
    app.include_router(api_router(engine, keys, reads, limits))
    app.include_router(alerts_in_router(engine, keys))
    app.include_router(incidents_router(engine, keys, reads))
    app.include_router(alerting_router(engine, keys, reads))
    app.include_router(oncall_router(engine, keys))
    app.include_router(links_router(engine))
    app.include_router(reports_router(engine, keys))
    app.include_router(guardrails_router(engine, keys, reads))
    app.include_router(remediation_router(engine, keys, reads))
    app.include_router(service_views_router(engine, keys))
    install_docs(app)
    feed = LiveFeed()  # the dashboard's live updates: fed after each engine pass
    engine.pass_listeners.append(feed.on_pass)
    app.include_router(live_router(engine, keys, feed))
    install_console(app)
    app.state.live = feed
    app.state.engine = engine
    app.state.keys = keys
    app.state.store_outage = outage
    return app
