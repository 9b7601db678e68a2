"""A runbook's `notify` step, told to people through the durable outbox (docs/healing.md#actions).

The receivers are the step's own, or those the route tree gives the incident's firing alerts (as
the incident's own notifications reach them). One notice per receiver, of kind `remediation`, in one
group per action (so an action's messages arrive in order), with the incident and its signed links
for that receiver. Its key is the action's and the step's (`remediation/<action>/<phase>[<index>]`):
the outbox writes it before anything is sent and sends it once per receiver, whatever happens."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from vigil.heal.actions import ActionContext
from vigil.incidents.links import notice_incident
from vigil.model import Alert, AlertStatus, Notice


def notice_key(action_id: int, step: str) -> str:
    return f"remediation/{action_id}/{step}"


class OutboxTeller:
    """`heal.actions.Teller` over the notify stage's outbox and the route stage's tree."""

    def __init__(self, notify: Any, router: Any, incidents: Any, book: Any) -> None:
        self.notify, self.router, self.incidents, self.book = notify, router, incidents, book

    def _alerts(self, ctx: ActionContext) -> list[Alert]:
        """The incident's firing alerts (the service's, without an incident), labelled with the incident
        as the route stage labels them."""
        out = []
        for a in self.book.firing.values():
            inc = self.incidents.incident_of(a.fingerprint)
            if ctx.incident is None and a.service == ctx.service and inc is None:
                out.append(a)
            elif inc is not None and inc.id == ctx.incident:
                out.append(replace(a, labels={**a.labels, "incident": str(inc.id)}, fingerprint=a.fingerprint))
        return out

    def receivers(self, alerts: list[Alert], service: str) -> list[str]:
        if self.router is None:
            return []
        labels = [a.labels for a in alerts] or [{"service": service}]
        seen: dict[str, None] = {}
        for one in labels:
            for r in self.router.receivers_for(one):
                seen.setdefault(r, None)
        return list(seen)

    async def tell(self, ctx: ActionContext, message: str, receiver: str | None) -> dict[str, Any]:
        alerts = self._alerts(ctx)
        to = [receiver] if receiver else self.receivers(alerts, ctx.service)
        now = ctx.clock.now()
        inc = getattr(self.incidents, "known", {}).get(ctx.incident) if ctx.incident is not None else None
        escalation = getattr(self.incidents, "escalation", None)
        signer = escalation.signer if escalation is not None else None
        key = notice_key(ctx.action_id, ctx.step)
        what: dict[str, Any] = {"action": ctx.action_id, "runbook": ctx.runbook, "service": ctx.service,
                                "step": ctx.step, "message": message}
        notices = []
        for r in to:
            mapping: dict[str, Any] = (notice_incident(inc, signer, r, now) if inc is not None else
                                       {"id": "", "title": f"{ctx.runbook} on {ctx.service}", "service": ctx.service})
            mapping["remediation"] = what
            notices.append(Notice(key, r, f"remediation/{ctx.action_id}", AlertStatus.FIRING, alerts, now,
                                  {"action": str(ctx.action_id)}, 0, mapping, "remediation"))
        result = await self.notify.enqueue(notices, now) if notices else None
        counts = {k: getattr(result, k, 0) for k in ("added", "duplicates", "deferred", "unknown_receiver")}
        return {"receivers": to, "key": key, **counts}
