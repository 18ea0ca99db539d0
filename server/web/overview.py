"""The progress pages: a unit against its targets, the units below it, the daily trend, the
downloads, the phones gone quiet, and who did what.

Everything here is read per request from the database (rollups for the figures, submissions
and devices for the volunteers and quiet phones), within the user's scope, checked on the
server for every unit asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, g, render_template, request, url_for
from flask_babel import format_timedelta
from flask_babel import gettext as _

from sync.accounts import devices
from sync.admin import campaigns, orgunits
from sync.progress import volunteers
from sync.progress.metrics import METRICS
from sync.progress.reads import progress

from .. import db
from . import numbers
from .charts import campaign_days, daily_chart
from .views import _campaign, _unit, bp, page, roots

DEFAULT_CHART = "accounts_activated"


def _chart_metric() -> str:
    metric = request.args.get("metric") or DEFAULT_CHART
    if metric not in METRICS:
        abort(400, _("There is no such metric."))
    return metric


def _trail(unit):
    return [u for u in orgunits.ancestors(db.session(), unit) if g.web_scope.covers(u)] + [unit]


def _downloads(campaign, unit) -> list[dict]:
    out = []
    for endpoint, what in (
        ("exports.export_progress", _("Progress by unit")),
        ("exports.export_follow_ups", _("Follow-up list")),
    ):
        for fmt in ("csv", "xlsx"):
            name = "progress" if endpoint.endswith("progress") else "follow-ups"
            out.append(
                {
                    "label": what,
                    "format": fmt.upper(),
                    "kind": f"{name}-{fmt}",
                    "file": f"{name}-{campaign.code}-{unit.code}.{fmt}",
                    "href": url_for(
                        endpoint, campaign=campaign.code, org_unit=unit.code, format=fmt
                    ),
                }
            )
    return out


def _shown(totals: dict) -> list[str]:
    """A unit's figures below its parent: every metric with a target, each with its bar (or,
    with no target set, the two the campaign is about)."""
    return [m for m in METRICS if totals[m]["target"]] or ["citizens_reached", "accounts_activated"]


def _quiet(unit, now: datetime) -> list[dict]:
    rows = devices.quiet(db.session(), g.web_scope, unit, now)
    for row in rows:
        row["silent_for"] = format_timedelta(now - row["last_push_at"], threshold=1.1)
    return rows


@bp.get("/")
@page()
def overview():
    session = db.session()
    campaign, unit = _campaign(), _unit()
    metric = _chart_metric()
    body = progress(session, campaign, unit, daily=True)
    tops = roots()
    target = body["totals"][metric]["target"]
    chart = daily_chart(
        campaign_days(body["daily"], campaign.starts_on, campaign.ends_on),
        metric,
        target,
        {
            "title": _("%(metric)s per day", metric=_(metric)),
            "daily": _("Each day (columns): at most %(max)s"),
            "running": _("Running total (line): %(total)s of the target %(target)s"),
            "target": _("Target"),
        },
        lambda value: numbers.metric(value, metric),
    )
    return render_template(
        "overview.html",
        campaign=campaign,
        unit=unit,
        body=body,
        trail=_trail(unit),
        roots=tops,
        root=next((r for r in tops if unit.path.startswith(r.path)), None),
        chart=chart,
        chart_metric=metric,
        shown={c["org_unit"]["code"]: _shown(c["totals"]) for c in body["children"]},
        downloads=_downloads(campaign, unit),
        quiet=_quiet(unit, datetime.now(UTC)),
        all_campaigns=campaigns.all_campaigns(session),
    )


@bp.get("/volunteers")
@page()
def volunteer_table():
    session = db.session()
    campaign, unit = _campaign(), _unit()
    rows = volunteers.per_volunteer(session, campaign, unit, g.web_scope)
    now = datetime.now(UTC)
    quiet_ids = {r["device"].id for r in devices.quiet(session, g.web_scope, unit, now)}
    for row in rows:
        row["quiet"] = any(p in quiet_ids for p in row["phones"])
    return render_template(
        "volunteers.html",
        campaign=campaign,
        unit=unit,
        trail=_trail(unit),
        rows=rows,
        sums=volunteers.by_kind(rows),
        forms=volunteers.FORMS,
    )
