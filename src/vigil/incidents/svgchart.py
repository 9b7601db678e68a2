"""Small inline SVG charts for the reports, drawn by hand: no library, no script, no external asset, so
a report is one self-contained file that any mail client or browser shows. Every text is escaped."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

FONT = "font-family:Helvetica,Arial,sans-serif;font-size:11px"
BLUE, RED, GREEN, GREY, INK = "#3b6fd6", "#d64541", "#2e9d5b", "#c8ccd2", "#333"


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _num(v: float) -> str:
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"


def nice_max(v: float) -> float:
    """A round axis maximum at or above v (1, 2, 5 times a power of ten)."""
    if v <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(v))
    for step in (1, 2, 5, 10):
        if v <= step * power:
            return float(step * power)
    return float(10 * power)


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}" style="{FONT}">'
        f"<title>{_e(title)}</title>"
        f'<text x="0" y="14" style="font-size:13px;font-weight:bold" fill="{INK}">{_e(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    unit: str = "",
    width: int = 640,
    height: int = 200,
    colour: str = BLUE,
) -> str:
    """Vertical bars, one per label (hours, days), with a y axis and every few labels under them."""
    left, top, bottom = 40, 26, 22
    plot_w, plot_h = width - left - 8, height - top - bottom
    top_v = nice_max(max(values, default=0.0))
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{GREY}"/>'
    ]
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        body.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">'
            f"{_e(_num(top_v * frac))}</text>"
        )
        if frac:
            body.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eceef1"/>'
            )
    n = max(1, len(values))
    slot = plot_w / n
    every = max(1, math.ceil(n / 12))  # at most a dozen labels
    for i, (label, v) in enumerate(zip(labels, values, strict=False)):
        h = plot_h * (v / top_v)
        x = left + i * slot + slot * 0.15
        body.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{_e(label)}: {_e(_num(v))}{_e(unit)}</title></rect>'
        )
        if i % every == 0:
            body.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{height - 6}" text-anchor="middle" '
                f'fill="{INK}">{_e(label)}</text>'
            )
    return _frame(width, height, title, body)


def hbars(
    labels: Sequence[str],
    values: Sequence[float | None],
    title: str,
    unit: str = "",
    targets: Sequence[float | None] | None = None,
    low: float | None = None,
    high: float | None = None,
    higher_is_better: bool = True,
    width: int = 640,
) -> str:
    """Horizontal bars, one per service, with an optional target mark per row (an SLA): a bar on the
    wrong side of its target is red. `low`/`high` bound the axis (availability reads on 99..100)."""
    row, top, name_w = 20, 26, 130
    height = top + row * max(1, len(labels)) + 6
    plot_w = width - name_w - 90
    known = [v for v in values if v is not None] + [t for t in (targets or []) if t is not None]
    lo = low if low is not None else 0.0
    hi = high if high is not None else nice_max(max(known, default=0.0))
    span = max(hi - lo, 1e-9)
    body = []
    for i, label in enumerate(labels):
        y = top + i * row
        body.append(f'<text x="{name_w - 6}" y="{y + 13}" text-anchor="end" fill="{INK}">{_e(label)}</text>')
        v = values[i]
        target = targets[i] if targets is not None and i < len(targets) else None
        if v is None:
            body.append(f'<text x="{name_w}" y="{y + 13}" fill="#888">no data</text>')
            continue
        bad = target is not None and (v < target if higher_is_better else v > target)
        w = plot_w * min(1.0, max(0.0, (v - lo) / span))
        body.append(
            f'<rect x="{name_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 6}" '
            f'fill="{RED if bad else GREEN if target is not None else BLUE}"/>'
        )
        body.append(
            f'<text x="{name_w + max(w, 1) + 4:.1f}" y="{y + 13}" fill="{INK}">{_e(_num(v))}{_e(unit)}</text>'
        )
        if target is not None:
            tx = name_w + plot_w * min(1.0, max(0.0, (target - lo) / span))
            body.append(
                f'<line x1="{tx:.1f}" y1="{y + 1}" x2="{tx:.1f}" y2="{y + row - 1}" stroke="{INK}" '
                f'stroke-width="2"><title>target {_e(_num(target))}{_e(unit)}</title></line>'
            )
    return _frame(width, height, title, body)
