"""The texts of a notification, written by vigil from the Notice (no Go templates): what is wrong,
which services, since when, and, when the notice belongs to an incident, its summary, probable root
cause and links. One `View` of the notice, then one function per format (plain text, HTML, Slack
mrkdwn); the notifiers lay these out in their own payloads."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from typing import Any

from vigil.model import SEVERITY_RANK, Alert, Notice, severity_of

COLOURS = {"resolved": "#2EB67D", "critical": "#E01E5A", "high": "#F2711C", "error": "#F2711C",
           "warning": "#ECB22E", "info": "#36C5F0"}
MAX_LINES = 20  # alerts listed in a message; the rest are counted


@dataclass(slots=True)
class AlertLine:
    name: str
    service: str
    severity: str
    status: str
    summary: str
    starts_at: float
    ends_at: float | None


@dataclass(slots=True)
class IncidentView:
    id: str
    title: str
    summary: str
    root_cause: list[str]
    links: list[tuple[str, str]]  # (text, url)
    url: str


@dataclass(slots=True)
class View:
    status: str  # firing | resolved
    title: str
    severity: str
    services: list[str]
    since: float | None
    ended: float | None
    created_at: float
    lines: list[AlertLine]
    more: int  # alerts not listed (beyond MAX_LINES, plus those the notice itself left out)
    incident: IncidentView | None
    firing: int = 0
    resolved: int = 0
    labels: dict[str, str] = field(default_factory=dict)  # the group labels

    @property
    def colour(self) -> str:
        if self.status == "resolved":
            return COLOURS["resolved"]
        return COLOURS.get(self.severity, COLOURS["warning"])


def highest_severity(alerts: list[Alert]) -> str:
    firing = [a for a in alerts if a.firing] or alerts
    words = [a.labels.get("severity", "warning") for a in firing]
    return max(words, key=lambda w: SEVERITY_RANK[severity_of(w)], default="warning")


def view(notice: Notice) -> View:
    alerts = notice.alerts
    status = notice.status.value
    services = sorted({a.service for a in alerts if a.service})
    starts = [a.starts_at for a in alerts]
    ends = [a.ends_at for a in alerts if a.ends_at is not None]
    lines = [AlertLine(a.name, a.service, a.labels.get("severity", ""), a.status.value, _summary(a),
                       a.starts_at, a.ends_at) for a in alerts[:MAX_LINES]]
    incident = _incident(notice.incident)
    firing = sum(1 for a in alerts if a.firing)
    v = View(status, "", highest_severity(alerts) if alerts else "warning", services,
             min(starts) if starts else None, max(ends) if ends and status == "resolved" else None,
             notice.created_at, lines, max(0, len(alerts) - MAX_LINES) + notice.truncated_alerts, incident,
             firing, len(alerts) - firing, dict(notice.group_labels))
    v.title = _title(notice, v)
    return v


def report_parts(notice: Notice) -> tuple[str, str, str] | None:
    """A scheduled report's (subject, text, html), rendered when it was due (vigil.incidents.reports)."""
    r = notice.report if notice.kind == "report" else None
    if not r:
        return None
    title = str(r.get("title") or "vigil report")
    return KIND_PREFIX["report"] + title, str(r.get("text", "")), str(r.get("html", ""))


def _summary(a: Alert) -> str:
    ann = a.annotations
    text = ann.get("summary") or ann.get("description") or ann.get("message", "")
    if not a.firing and a.annotations.get("resolution"):
        text = f"{text} (resolved: {a.annotations['resolution']})" if text else a.annotations["resolution"]
    return text


KIND_PREFIX = {"escalation": "Escalated: ", "reminder": "Reminder: ", "report": "Report: ",
               "remediation": "Remediation: "}


def _title(notice: Notice, v: View) -> str:
    word = v.status.upper()
    told_over = notice.kind == "escalation" and v.status == "resolved"  # "Escalated: [RESOLVED]" reads wrong
    prefix = "" if told_over else KIND_PREFIX.get(notice.kind, "")
    if v.incident is not None:
        ident = f"#{v.incident.id} " if v.incident.id else ""
        return f"{prefix}[{word}] {ident}{v.incident.title or _what(notice)}"
    count = f":{v.firing}" if v.status == "firing" else ""
    return f"{prefix}[{word}{count}] {_what(notice)}"


def _what(notice: Notice) -> str:
    names = sorted({a.name for a in notice.alerts if a.name})
    what = names[0] if len(names) == 1 else f"{len(notice.alerts)} alerts"
    services = sorted({a.service for a in notice.alerts if a.service})
    if services:
        shown = ", ".join(services[:3]) + (f" and {len(services) - 3} more" if len(services) > 3 else "")
        what += f" on {shown}"
    return what


def _incident(raw: dict[str, Any] | None) -> IncidentView | None:
    """Read what the incidents side put on the notice: id, title, summary, root_cause (a list of
    services, or of {service, score, why}), links ({text: url} or [{text, href}]), url."""
    if not raw:
        return None
    causes: list[str] = []
    rc = raw.get("root_cause") or raw.get("root_causes") or []
    for item in [rc] if isinstance(rc, (str, dict)) else list(rc):
        if isinstance(item, dict):
            text = str(item.get("service", "?"))
            if item.get("score") is not None:
                text += f" (score {float(item['score']):.2f})"
            why = item.get("why") or item.get("reason") or item.get("evidence")
            if isinstance(why, str) and why:
                text += f": {why}"
            causes.append(text)
        else:
            causes.append(str(item))
    links_raw = raw.get("links") or {}
    links: list[tuple[str, str]] = []
    if isinstance(links_raw, dict):
        links = [(str(k), str(u)) for k, u in links_raw.items()]
    else:
        for item in links_raw:
            if isinstance(item, dict) and (item.get("href") or item.get("url")):
                links.append((str(item.get("text", "link")), str(item.get("href") or item.get("url"))))
    summary = str(raw.get("summary", ""))
    escalation = raw.get("escalation")
    why = str(escalation.get("reason") or "") if isinstance(escalation, dict) else ""
    if why and why != "resolved":  # an escalation page says first why it comes: "Escalated to level 2: ..."
        summary = f"{why[0].upper()}{why[1:]}." + (f"\n\n{summary}" if summary else "")
    remediation = raw.get("remediation")
    said = str(remediation.get("message") or "") if isinstance(remediation, dict) else ""
    if said:  # a runbook's notify step: its message first
        summary = said + (f"\n\n{summary}" if summary else "")
    return IncidentView(str(raw.get("id", "")), str(raw.get("title", "")), summary, causes, links,
                        str(raw.get("url", "")))


# ------------------------------------------------------------------------------------------ times

def clock_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def span(seconds: float) -> str:
    s = int(max(0.0, seconds))
    parts = [(s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "m"), (s % 60, "s")]
    shown = [f"{n}{u}" for n, u in parts if n][:2]
    return " ".join(shown) or "0s"


def since_text(v: View) -> str:
    if v.since is None:
        return ""
    if v.status == "resolved" and v.ended is not None:
        return f"from {clock_time(v.since)} to {clock_time(v.ended)} ({span(v.ended - v.since)})"
    return f"since {clock_time(v.since)} ({span(v.created_at - v.since)})"


# ----------------------------------------------------------------------------------------- formats

def line_text(line: AlertLine) -> str:
    where = f" on {line.service}" if line.service else ""
    sev = f" [{line.severity}]" if line.severity else ""
    state = " (resolved)" if line.status == "resolved" else ""
    return f"{line.name}{where}{sev}{state}" + (f": {line.summary}" if line.summary else "")


def text(v: View) -> str:
    """Plain text: the email's text part, Slack's fallback, the body of a simple message."""
    out = [v.title, ""]
    if v.services:
        out.append(f"Services: {', '.join(v.services)}")
    if v.since is not None:
        out.append(f"When: {since_text(v)}")
    out.append(f"Severity: {v.severity}")
    if v.incident is not None:
        if v.incident.summary:
            out += ["", v.incident.summary]
        if v.incident.root_cause:
            out += ["", "Probable root cause:"]
            out += [f"  {i}. {c}" for i, c in enumerate(v.incident.root_cause, 1)]
    out += ["", "Alerts:"] + [f"  - {line_text(line)}" for line in v.lines]
    if v.more:
        out.append(f"  ... and {v.more} more")
    shown = all_links(v)
    if shown:
        out += [""] + [f"{t}: {u}" for t, u in shown]
    return "\n".join(out) + "\n"


def all_links(v: View) -> list[tuple[str, str]]:
    if v.incident is None:
        return []
    links = list(v.incident.links)
    if v.incident.url and all(u != v.incident.url for _, u in links):
        links.insert(0, ("Incident", v.incident.url))
    return links


def html_body(v: View) -> str:
    """The email's HTML part: the same content, escaped."""
    e = html.escape
    rows = []
    if v.services:
        rows.append(("Services", e(", ".join(v.services))))
    if v.since is not None:
        rows.append(("When", e(since_text(v))))
    rows.append(("Severity", e(v.severity)))
    parts = [f'<h2 style="color:{v.colour}">{e(v.title)}</h2>', "<table>"]
    parts += [f"<tr><th align=left>{k}</th><td>{val}</td></tr>" for k, val in rows]
    parts.append("</table>")
    if v.incident is not None:
        if v.incident.summary:
            parts.append(f"<p>{e(v.incident.summary)}</p>")
        if v.incident.root_cause:
            parts.append("<h3>Probable root cause</h3><ol>"
                         + "".join(f"<li>{e(c)}</li>" for c in v.incident.root_cause) + "</ol>")
    parts.append("<h3>Alerts</h3><ul>" + "".join(f"<li>{e(line_text(line))}</li>" for line in v.lines)
                 + (f"<li>... and {v.more} more</li>" if v.more else "") + "</ul>")
    shown = all_links(v)
    if shown:
        anchors = " | ".join(f'<a href="{e(u, quote=True)}">{e(t)}</a>' for t, u in shown)
        parts.append(f"<p>{anchors}</p>")
    return "<html><body>" + "\n".join(parts) + "</body></html>"


def mrkdwn_escape(s: str) -> str:
    """Slack's three control characters (its docs: escape &, < and > and nothing else)."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def bullet_lines(v: View, escape: bool) -> str:
    """Bulleted alert lines for Slack (mrkdwn, escaped) and Discord (markdown)."""
    out = [f"• {mrkdwn_escape(line_text(line)) if escape else line_text(line)}" for line in v.lines]
    if v.more:
        out.append(f"… and {v.more} more")
    return "\n".join(out)


def literal(value: str | None) -> str | None:
    """A text field from an Alertmanager config, if it is plain text: vigil does not run Go
    templates, so a value holding `{{` is left for vigil's own text."""
    return value if value and "{{" not in value else None


def clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
