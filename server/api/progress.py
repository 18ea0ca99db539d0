"""``/api/v1/progress``: totals, children and the daily series for an org unit."""

from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from sync.admin import campaigns, orgunits
from sync.errors import NotFound
from sync.forms.fields import Code
from sync.progress.metrics import METRICS
from sync.progress.reads import progress

from .. import db
from ..auth.principal import current, requires
from ..errors import ApiError
from ..openapi import problems

blp = Blueprint("progress", __name__, url_prefix="/api/v1/progress", description="Progress")


class ProgressQuery(Schema):
    campaign = Code(required=True)
    org_unit = Code(required=True)
    daily = fields.Boolean(load_default=False)


class MetricTotal(Schema):
    value = fields.Float(required=True)
    target = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null: no target set."}
    )
    percent = fields.Float(
        required=True, allow_none=True, metadata={"description": "null without a target."}
    )


Totals = Schema.from_dict(
    {metric: fields.Nested(MetricTotal, required=True) for metric in METRICS}, name="Totals"
)
DailyRow = Schema.from_dict(
    {"date": fields.Date(required=True)}
    | {metric: fields.Float(required=True) for metric in METRICS},
    name="DailyRow",
)


class CampaignRef(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    timezone = fields.String(required=True)


class UnitRef(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class ChildProgress(Schema):
    org_unit = fields.Nested(UnitRef, required=True)
    totals = fields.Nested(Totals, required=True)


class ProgressOut(Schema):
    campaign = fields.Nested(CampaignRef, required=True)
    org_unit = fields.Nested(UnitRef, required=True)
    as_of = fields.AwareDateTime(required=True)
    totals = fields.Nested(Totals, required=True)
    children = fields.List(fields.Nested(ChildProgress), required=True)
    daily = fields.List(
        fields.Nested(DailyRow), metadata={"description": "Only with daily=1; sums to totals."}
    )


@blp.route("", methods=["GET"])
@requires("admin", "hq", "lead")
@blp.arguments(ProgressQuery, location="query")
@blp.response(200, ProgressOut)
@problems(_404="No campaign or org unit with this code.")
def read(query):
    """An org unit's totals against targets, its children's, and optionally the daily series,
    read from the rollups so a ward and the whole country cost the same."""
    session = db.session()
    campaign = campaigns.require(session, query["campaign"])
    unit = orgunits.get(session, query["org_unit"])
    if unit is None:
        raise NotFound(f"No org unit '{query['org_unit']}'.")
    if not current().scope.covers(unit):
        raise ApiError(403, "This org unit lies outside your scope.")
    return jsonify(progress(session, campaign, unit, query["daily"]))
