"""Reports over the API: daily, weekly and executive, as self-contained HTML, Markdown or the figures
as JSON, for the period ending at `at` (default now)."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response

from vigil.incidents.report_render import html_report, markdown
from vigil.incidents.reports import build
from vigil.web.auth import ApiKeys
from vigil.web.errors import error_responses
from vigil.web.timeparse import parse_time

MEDIA = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8", "json": "application/json"}
_CONTENT = {
    "text/html": {"schema": {"type": "string"}},
    "text/markdown": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "object"}},
}


@functools.cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def reports_router(engine: Any, keys: ApiKeys) -> APIRouter:
    r = APIRouter(
        prefix="/api/v1/reports",
        dependencies=[Depends(keys)],
        tags=["reports"],
        responses=error_responses(400, 401, 429, 503),
    )

    @r.get(
        "/{kind}",
        summary="A report: per-service MTTD, MTTA, MTTR, incidents, SLO impact, availability "
        "against SLA, downtime cost",
        response_class=Response,
        responses={200: {"description": "the report in the format asked for", "content": _CONTENT}},
    )
    def report(
        kind: Literal["daily", "weekly", "executive"] = Path(
            description="daily (24 h), weekly (7 days) or executive (30 days)"
        ),
        format: Literal["html", "md", "json"] = Query("html", description="html, md (Markdown) or json"),
        at: str | None = Query(
            None,
            max_length=64,
            description="end of the period: epoch s, RFC 3339, or relative like -1d; default now",
        ),
        time_zone: str = Query("UTC", max_length=64, description="IANA zone the times are shown in"),
    ) -> Response:
        now = engine.clock.now()
        try:
            end = parse_time(at, now) if at else now
        except ValueError as exc:
            raise HTTPException(400, detail=str(exc)) from None
        if time_zone not in time_zones():
            raise HTTPException(
                400,
                detail=f"unknown time zone {time_zone[:64]!r}; use an IANA name such as UTC or Europe/Paris",
            )
        rep = build(engine.config, engine.store, kind, end, now)
        if format == "json":
            return Response(orjson.dumps(rep.view()), media_type=MEDIA["json"])
        body = html_report(rep, time_zone) if format == "html" else markdown(rep, time_zone)
        return Response(body, media_type=MEDIA[format])

    return r
