"""A report as Markdown and as one self-contained HTML file (inline CSS, inline SVG charts from
`svgchart`, no script, no external asset: it reads the same in a mail client, a browser or a file)."""

from __future__ import annotations

import datetime as dt
import html
from zoneinfo import ZoneInfo

from vigil.incidents import svgchart
from vigil.incidents.reports import IncidentLine, Report, ServiceFigures
from vigil.notify.render import span

TITLES = {"daily": "Daily report", "weekly": "Weekly report", "executive": "Executive report"}
SPARK = "▁▂▃▄▅▆▇█"
CSS = """
body{font-family:Helvetica,Arial,sans-serif;color:#222;max-width:980px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
p.lead{font-size:15px;line-height:1.5}.muted{color:#777}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:5px 8px;border-bottom:1px solid #eee;
text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f5f6f8}
table.list th,table.list td{text-align:left}.bad{color:#c0392b;font-weight:bold}.good{color:#2e7d4f}
.chart{margin:12px 0}
"""


def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def when(ts: float, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.datetime.fromtimestamp(ts, _zone(tz)).strftime(fmt)


def title(report: Report, tz: str = "UTC") -> str:
    p = report.period
    return f"{TITLES[p.kind]}: {when(p.start, tz)} to {when(p.end, tz)} {tz}"


def duration(seconds: float | None) -> str:
    return "—" if seconds is None else span(seconds)


def minutes(seconds: float) -> str:
    return f"{seconds / 60:,.0f} min" if seconds >= 60 or seconds == 0 else f"{seconds:.0f} s"


def money(v: float | None) -> str:
    return "—" if v is None else f"{v:,.2f}"


def availability(f: ServiceFigures) -> str:
    if f.availability_pct is None:
        return "—"
    text = f"{f.availability_pct:.3f}%"
    if f.sla_pct is not None:
        text += f" ({'meets' if f.sla_met else 'below'} {f.sla_pct:g}%)"
    return text


def _delta(now: float, before: float, unit: str = "") -> str:
    d = now - before
    if abs(d) < 0.5:
        return "as many as the period before"
    return f"{'up' if d > 0 else 'down'} {abs(d):,.0f}{unit} from the period before"


def headline(report: Report) -> str:
    """What the period amounts to, in one or two sentences."""
    f = report.fleet
    if not f.incidents and not f.slo_impact_s and not f.downtime_s:
        text = "No incidents, no SLO impact and no downtime in this period."
    else:
        parts = [f"{f.incidents} incident{'s' if f.incidents != 1 else ''} ({f.critical} critical)"]
        times = [
            f"{k} {duration(v)}"
            for k, v in (("MTTD", f.mttd_s), ("MTTA", f.mtta_s), ("MTTR", f.mttr_s))
            if v is not None
        ]
        if times:
            parts.append(", ".join(times))
        parts.append(f"{minutes(f.slo_impact_s)} of SLO impact")
        parts.append(f"{minutes(f.downtime_s)} of downtime")
        if f.downtime_cost is not None:
            parts.append(f"downtime cost {money(f.downtime_cost)}")
        text = "; ".join(parts) + "."
    below = [s for s in report.services if s.sla_met is False]
    if below:
        text += (
            " Below SLA: "
            + ", ".join(f"{s.service} {s.availability_pct:.3f}% < {s.sla_pct:g}%" for s in below)
            + "."
        )
    prev = report.previous
    if prev is not None:
        text += (
            f" Incidents: {_delta(f.incidents, prev.fleet.incidents)}; downtime: "
            f"{_delta(f.downtime_s / 60, prev.fleet.downtime_s / 60, ' min')}."
        )
    if report.truncated:
        text += " (More incidents than a report reads: the oldest were left out.)"
    return text


def _rows(report: Report) -> list[list[str]]:
    return [
        [
            s.service,
            str(s.incidents),
            duration(s.mttd_s),
            duration(s.mtta_s),
            duration(s.mttr_s),
            minutes(s.slo_impact_s),
            availability(s),
            minutes(s.downtime_s),
            money(s.downtime_cost),
        ]
        for s in report.services
    ]


HEADERS = [
    "service",
    "incidents",
    "MTTD",
    "MTTA",
    "MTTR",
    "SLO impact",
    "availability (SLA)",
    "downtime",
    "downtime cost",
]


def _bucket_label(report: Report, ts: float, tz: str) -> str:
    return when(ts, tz, "%H:%M" if report.period.kind == "daily" else "%m-%d")


def _incident_line(inc: IncidentLine, tz: str) -> tuple[str, str, str, str]:
    state = "open" if inc.resolved_at is None else "resolved"
    return (
        f"#{inc.id}",
        inc.title,
        f"{inc.severity}, {state}",
        f"opened {when(inc.opened_at, tz)}, {span(inc.open_s)} open in the period",
    )


# ------------------------------------------------------------------------------------------ Markdown


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report, tz: str = "UTC") -> str:
    out = [
        f"# {title(report, tz)}",
        "",
        headline(report),
        "",
        "## Services",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(HEADERS) - 1)) + "|",
    ]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in _rows(report)]
    counts = [n for _, n in report.buckets]
    if counts:
        top = max(counts) or 1
        line = "".join(
            SPARK[min(len(SPARK) - 1, round(n / top * (len(SPARK) - 1)))] if n else " " for n in counts
        )
        per = "hour" if report.period.kind == "daily" else "day"
        out += ["", f"Incidents opened per {per} (max {max(counts)}): `{line}`"]
    if report.incidents:
        out += ["", "## Heaviest incidents", ""]
        out += [
            f"- {a} {_md_cell(b)} ({c}; {d})"
            for a, b, c, d in (_incident_line(i, tz) for i in report.incidents)
        ]
    if report.previous is not None:
        out += ["", "## The period before", "", headline(report.previous)]
    out += ["", f"_Generated by vigil at {when(report.generated_at, tz)} {tz}._", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------ HTML


def _charts(report: Report, tz: str) -> list[str]:
    charts = []
    per = "hour" if report.period.kind == "daily" else "day"
    charts.append(
        svgchart.bars(
            [_bucket_label(report, t, tz) for t, _ in report.buckets],
            [float(n) for _, n in report.buckets],
            f"Incidents opened per {per}",
        )
    )
    with_avail = [s for s in report.services if s.availability_pct is not None]
    if with_avail:
        values = [s.availability_pct for s in with_avail]
        targets = [s.sla_pct for s in with_avail]
        lowest = min([v for v in values if v is not None] + [t for t in targets if t is not None])
        charts.append(
            svgchart.hbars(
                [s.service for s in with_avail],
                values,
                "Availability against SLA",
                "%",
                targets,
                low=max(0.0, float(int(lowest)) - 1.0),
                high=100.0,
            )
        )
    if report.period.kind == "weekly":
        timed = [s for s in report.services if s.mttr_s is not None]
        if timed:
            charts.append(
                svgchart.hbars(
                    [s.service for s in timed],
                    [(s.mttr_s or 0) / 60 for s in timed],
                    "MTTR per service",
                    " min",
                    higher_is_better=False,
                )
            )
    costed = [s for s in report.services if s.downtime_cost]
    if costed and report.period.kind != "daily":
        charts.append(
            svgchart.hbars(
                [s.service for s in costed],
                [s.downtime_cost for s in costed],
                "Downtime cost per service",
                higher_is_better=False,
            )
        )
    return charts


def html_report(report: Report, tz: str = "UTC") -> str:
    e = html.escape
    name = title(report, tz)
    parts = [
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{e(name)}</title>'
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(name)}</h1>",
        f'<p class="lead">{e(headline(report))}</p>',
    ]
    parts += [f'<div class="chart">{svg}</div>' for svg in _charts(report, tz)]
    parts.append("<h2>Services</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in HEADERS) + "</tr>")
    for s, row in zip(report.services, _rows(report), strict=True):
        cells = [f"<td>{e(c)}</td>" for c in row]
        if s.sla_met is not None:
            cells[6] = f'<td class="{"good" if s.sla_met else "bad"}">{e(row[6])}</td>'
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table>")
    if report.incidents:
        parts.append(
            '<h2>Heaviest incidents</h2><table class="list"><tr><th>incident</th><th>title</th><th>state</th>'
            "<th>when</th></tr>"
        )
        parts += [
            "<tr>" + "".join(f"<td>{e(c)}</td>" for c in _incident_line(i, tz)) + "</tr>"
            for i in report.incidents
        ]
        parts.append("</table>")
    if report.previous is not None:
        parts.append(f"<h2>The period before</h2><p>{e(headline(report.previous))}</p>")
    parts.append(f'<p class="muted">Generated by vigil at {e(when(report.generated_at, tz))} {e(tz)}.</p>')
    return "".join(parts) + "</body></html>"
