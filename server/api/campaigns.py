"""``/api/v1/campaigns``: campaigns and their targets."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sync import campaigns
from sync.fields import Code, Name, StrictInteger, Text
from sync.metrics import METRICS

from .. import db
from ..auth.principal import current, requires

blp = Blueprint("campaigns", __name__, url_prefix="/api/v1/campaigns", description="Campaigns")


class CampaignIn(Schema):
    code = Code(required=True)
    name = Name(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    timezone = Text(load_default=None, max_length=64)

    @validates_schema
    def _dates_ordered(self, data, **_):
        if data["ends_on"] < data["starts_on"]:
            raise ValidationError("Must not be before starts_on.", "ends_on")


class CampaignOut(Schema):
    code = fields.String()
    name = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    timezone = fields.String()


class CampaignList(Schema):
    items = fields.List(fields.Nested(CampaignOut))


class TargetIn(Schema):
    org_unit = Code(required=True)
    metric = fields.String(required=True, validate=validate.OneOf(METRICS))
    value = StrictInteger(required=True, allow_none=True, validate=validate.Range(min=0))


class TargetOut(Schema):
    org_unit = fields.String()
    metric = fields.String()
    value = fields.Integer()


class TargetList(Schema):
    campaign = fields.String()
    targets = fields.List(fields.Nested(TargetOut))


@blp.route("", methods=["POST"])
@requires("admin")
@blp.arguments(CampaignIn)
@blp.response(201, CampaignOut)
def create(body):
    session = db.session()
    campaign = campaigns.create(session, actor=current().user, **body)
    session.commit()
    return campaign


@blp.route("", methods=["GET"])
@requires("admin", "hq", "lead", "volunteer")
@blp.response(200, CampaignList)
def list_campaigns():
    return {"items": campaigns.all_campaigns(db.session())}


@blp.route("/<code>/targets", methods=["PUT"])
@requires("admin")
@blp.arguments(TargetIn(many=True))
@blp.response(200, TargetList)
def put_targets(items, code):
    session = db.session()
    campaign = campaigns.require(session, code)
    campaigns.set_targets(session, campaign, items, current().user)
    session.commit()
    return {"campaign": campaign.code, "targets": campaigns.target_rows(session, campaign)}
