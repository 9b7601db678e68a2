"""The signed links of notifications (`/links/{token}`, incidents/links.py). The token is the
authorisation: no API key. GET shows the incident and, for an acknowledge or resolve link, a button;
only the POST from that button acts (so a mail scanner that opens links changes nothing), through the
engine's loop like the API, with the actor `link:<whom the notification was sent to>`, and is audited
like the API's changes. A refused link (malformed, bad signature, expired) is answered 403 with why,
and changes nothing."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from vigil.engine import NotRecorded, NotRunning
from vigil.incidents.links import Link, LinkRefused, LinkSigner, configured_secret, stored_secret
from vigil.incidents.model import Incident

# Pages carrying a token: never cached, never sent on as a Referer, never indexed, no scripts.
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                      "frame-ancestors 'none'",
           "X-Content-Type-Options": "nosniff"}
STYLE = ("body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}"
         "th{text-align:left;padding-right:1em}button{font-size:1.1em;padding:.4em 1.2em}")
VERB = {"acknowledge": "Acknowledge", "resolve": "Resolve", "view": "View"}
DONE = {"acknowledge": "acknowledged", "resolve": "resolved"}
_HTML = {"text/html": {"schema": {"type": "string"}}}
_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
_RETRY = {"Retry-After": {"description": "seconds to wait before trying again",
                          "schema": {"type": "integer"}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "The link is refused (malformed, bad signature, expired, or for another action); "
                         "nothing changed", "content": _HTML},
    404: {"description": "No such incident open or recently resolved", "content": {**_HTML, **_JSON}},
    409: {"description": "The incident cannot do that now (e.g. acknowledging a resolved one)",
          "content": _HTML},
    429: {"description": "Too many requests in flight; retry after Retry-After seconds", "content": _JSON,
          "headers": _RETRY},
    503: {"description": "The engine or the store is unavailable; retry after Retry-After seconds",
          "content": {**_HTML, **_JSON}, "headers": _RETRY},
}


class LinkDesk:
    """The signer of the engine's links: the configured secret, or the one the engine keeps in the
    store (read once it exists; the engine makes it at its first pass, before any link is sent)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        secret = configured_secret(engine.config)
        self._signer = LinkSigner(secret) if secret else None

    def signer(self) -> LinkSigner | None:
        """Blocking the first time (a store read): call from a thread."""
        if self._signer is None:
            secret = stored_secret(self.engine.store)
            if secret is not None:
                self._signer = LinkSigner(secret)
        return self._signer

    def check(self, token: str) -> Link:
        signer = self.signer()
        if signer is None:
            raise LinkRefused("bad signature: this vigil has not signed any link yet")
        return signer.check(token, self.engine.clock.now())


def page(status: int, heading: str, body: str = "", headers: dict[str, str] | None = None) -> HTMLResponse:
    text = (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(heading)}</title>"
            f"<meta name=viewport content='width=device-width'><style>{STYLE}</style></head>"
            f"<body><h1>{html.escape(heading)}</h1>{body}</body></html>")
    return HTMLResponse(text, status_code=status, headers={**HEADERS, **(headers or {})})


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts is not None else ""


def incident_table(inc: Incident) -> str:
    e = html.escape
    rows = [("Incident", f"#{inc.id} {inc.title}"), ("Status", inc.status.value),
            ("Severity", inc.severity.value), ("Service", inc.service or "?"),
            ("Services", ", ".join(inc.services)), ("Opened", _when(inc.opened_at))]
    if inc.acknowledged_by:
        rows.append(("Acknowledged", f"{_when(inc.acknowledged_at)} by {inc.acknowledged_by}"))
    if inc.resolved_at is not None:
        by = f" by {inc.resolved_by}" if inc.resolved_by else ""
        rows.append(("Resolved", f"{_when(inc.resolved_at)}{by}"))
    if inc.assignee:
        rows.append(("Assignee", inc.assignee))
    if inc.summary:
        rows.append(("Summary", inc.summary))
    return "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows) + "</table>"


def links_router(engine: Any) -> APIRouter:
    r = APIRouter(prefix="/links", tags=["links"], responses=RESPONSES)
    desk = LinkDesk(engine)

    @r.get("/{token}", response_class=HTMLResponse, summary="Open a notification's link: the incident and, "
           "for acknowledge / resolve, a button that does it (GET changes nothing)")
    def show(token: str) -> HTMLResponse:
        try:
            link = desk.check(token)
        except LinkRefused as exc:
            return page(403, "This link does not work", f"<p>{html.escape(exc.reason)}</p>")
        inc = engine.store.incident(link.incident)
        if inc is None:
            return page(404, f"No incident {link.incident}")
        body = incident_table(inc)
        if link.action != "view":
            body += (f"<form method=post><p><button type=submit>{VERB[link.action]} incident #{inc.id}"
                     f"</button> as {html.escape(link.actor)}</p></form>")
            return page(200, f"{VERB[link.action]} incident #{inc.id}?", body)
        return page(200, inc.title, body)

    @r.post("/{token}", response_class=HTMLResponse, summary="Do what the link says (acknowledge or resolve)")
    async def act(token: str) -> HTMLResponse:
        try:
            link = await run_in_threadpool(desk.check, token)
        except LinkRefused as exc:
            return page(403, "This link does not work",
                        f"<p>{html.escape(exc.reason)}</p><p>Nothing was changed.</p>")
        if link.action == "view":
            return page(403, "This link only shows the incident", "<p>Nothing was changed.</p>")
        started = engine.clock.monotonic()
        try:
            inc = await engine.command("incidents", link.action, {"id": link.incident}, link.actor)
        except KeyError as exc:
            return page(404, f"No incident {link.incident}", f"<p>{html.escape(str(exc).strip(chr(39)))}</p>")
        except ValueError as exc:
            return page(409, f"Incident #{link.incident} was not changed", f"<p>{html.escape(str(exc))}</p>")
        except (NotRunning, NotRecorded) as exc:
            return page(503, "vigil cannot take this now",
                        f"<p>{html.escape(str(exc))}; try again shortly</p>", {"Retry-After": "5"})
        # Audited as the API's changes are, with the recipient the link was signed for as the actor.
        engine.audit.append(link.actor, f"incident.{link.action}", {"incident": link.incident, "via": "signed link"},
                            {"link_expires": link.expires}, {"status": inc.status, "assignee": inc.assignee},
                            engine.clock.monotonic() - started, incident=link.incident, service=inc.service)
        return page(200, f"Incident #{inc.id} {DONE[link.action]}", f"<p>by {html.escape(link.actor)}</p>"
                    + incident_table(inc))

    return r
