"""The daily trend as inline SVG: no script, no external fetch, readable on a phone."""

from __future__ import annotations

from markupsafe import Markup, escape


def daily_svg(
    days: list[dict], metric: str, label: str, width: int = 600, height: int = 180
) -> Markup:
    if not days:
        return Markup("")
    values = [d.get(metric, 0) for d in days]
    top = max(values) or 1
    pad, bar_gap = 24, 2
    bar_w = max(2, (width - 2 * pad) / len(values) - bar_gap)
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = (height - 2 * pad) * value / top
        x = pad + i * (bar_w + bar_gap)
        y = height - pad - h
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" class="col">'
            f"<title>{escape(day['date'])}: {value}</title></rect>"
        )
    first, last = escape(days[0]["date"]), escape(days[-1]["date"])
    svg = (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'class="trend" data-metric="{escape(metric)}">'
        f'<text x="{pad}" y="14" class="axis">{escape(label)} (max {top})</text>'
        + "".join(bars)
        + f'<text x="{pad}" y="{height - 6}" class="axis">{first}</text>'
        f'<text x="{width - pad}" y="{height - 6}" class="axis" text-anchor="end">{last}</text>'
        "</svg>"
    )
    return Markup(svg)  # noqa: S704 - every interpolated value above is escaped or numeric
