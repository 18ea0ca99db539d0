"""The daily trend as inline SVG: no script, no external fetch, readable on a phone.

One metric per chart: a column per day (its own scale, the day's figure) and, over them, the
running total as a line against the target (the second scale, up to whichever is higher),
so a lead sees both the evening's work and how far the campaign is from its aim.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT = 600, 260
LEFT, RIGHT, TOP, BOTTOM = 8, 8, 26, 26


def _num(value: float) -> str:
    """A number for a data attribute, as the API writes it: whole ones without a point."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def campaign_days(days: list[dict], starts_on: date, ends_on: date) -> list[dict]:
    """The series over every day of the campaign (zero where nothing counted), with any day
    outside it that has figures (a phone's date may be off), in date order."""
    by_date = {d["date"]: d for d in days}
    span = (ends_on - starts_on).days
    dates = {(starts_on + timedelta(days=i)).isoformat() for i in range(max(span + 1, 0))}
    return [by_date.get(d, {"date": d}) for d in sorted(dates | set(by_date))]


def daily_chart(
    days: list[dict],
    metric: str,
    target: float | None,
    labels: dict[str, str],
    fmt: Callable[[float], str],
) -> Markup:
    """``labels``: ``title``, ``daily`` and ``running`` (with ``%(max)s``, ``%(total)s`` and
    ``%(target)s`` to fill in), ``target``; ``fmt`` writes a number as the page's language
    does."""
    if not days:
        return Markup("")
    values = [float(d.get(metric, 0) or 0) for d in days]
    running, total = [], 0.0
    for value in values:
        total += value
        running.append(total)
    top = max(values) or 1
    line_top = max(total, float(target or 0)) or 1
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / len(values)
    bar_w = max(1.0, step * 0.8)
    parts = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = plot_h * value / top
        x = LEFT + i * step + (step - bar_w) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'class="col" data-date="{escape(day["date"])}" data-value="{_num(value)}">'
            f"<title>{escape(day['date'])}: {escape(fmt(value))}</title></rect>"
        )
    points = " ".join(
        f"{LEFT + (i + 0.5) * step:.1f},{TOP + plot_h - plot_h * r / line_top:.1f}"
        for i, r in enumerate(running)
    )
    parts.append(f'<polyline points="{points}" class="running" data-total="{_num(total)}"/>')
    if target:
        y = TOP + plot_h - plot_h * float(target) / line_top
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="target" '
            f'data-target="{_num(target)}"/>'
            f'<text x="{WIDTH - RIGHT}" y="{max(y - 5, 18):.1f}" class="axis" '
            f'text-anchor="end">{escape(labels["target"])} {escape(fmt(target))}</text>'
        )
    filled = {"max": fmt(top if any(values) else 0), "total": fmt(total)}
    filled["target"] = fmt(target) if target else "—"
    legend_daily = escape(labels["daily"]) % {k: escape(v) for k, v in filled.items()}
    legend_running = escape(labels["running"]) % {k: escape(v) for k, v in filled.items()}
    first, last = escape(days[0]["date"]), escape(days[-1]["date"])
    # The legend is HTML above the drawing, so it stays readable however narrow the screen.
    caption = (
        f"<figcaption><strong>{escape(labels['title'])}</strong><br>"
        f'<span class="key col">■</span> <span class="legend-daily">{legend_daily}</span><br>'
        f'<span class="key running">━</span> <span class="legend-running">{legend_running}</span>'
        "</figcaption>"
    )
    svg = caption + (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(labels["title"])}" '
        f'class="trend" data-metric="{escape(metric)}" data-total="{_num(total)}">'
        + "".join(parts)
        + f'<text x="{LEFT}" y="{HEIGHT - 4}" class="axis">{first}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" class="axis" text-anchor="end">{last}</text>'
        "</svg>"
    )
    return Markup(svg)  # noqa: S704 - every interpolated value above is escaped or numeric
