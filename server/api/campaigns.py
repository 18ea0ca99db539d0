"""``/api/v1/campaigns``: campaigns and their targets."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sync.admin import campaigns
from sync.forms.fields import Code, Name, StrictInteger, Text
from sync.progress.metrics import METRICS

from .. import db
from ..auth.principal import current, requires
from ..openapi import problems
from ..transaction import transaction

# The widest integer every JSON reader keeps exact (JavaScript's): a phone or a page must read
# back the target it was given. The column is wider.
MAX_TARGET = 2**53 - 1

blp = Blueprint("campaigns", __name__, url_prefix="/api/v1/campaigns", description="Campaigns")


class CampaignIn(Schema):
    code = Code(required=True)
    name = Name(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    timezone = Text(
        load_default=None,
        max_length=64,
        metadata={"description": "An IANA time zone name; none: Asia/Ho_Chi_Minh."},
    )

    @validates_schema
    def _dates_ordered(self, data, **_):
        if data["ends_on"] < data["starts_on"]:
            raise ValidationError("Must not be before starts_on.", "ends_on")


class CampaignOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    timezone = fields.String(required=True)


class CampaignList(Schema):
    items = fields.List(fields.Nested(CampaignOut), required=True)


class TargetIn(Schema):
    org_unit = Code(required=True)
    metric = fields.String(required=True, validate=validate.OneOf(METRICS))
    value = StrictInteger(
        required=True, allow_none=True, validate=validate.Range(min=0, max=MAX_TARGET)
    )


class TargetOut(Schema):
    org_unit = fields.String(required=True)
    metric = fields.String(required=True, validate=validate.OneOf(METRICS))
    value = fields.Integer(required=True)


class TargetList(Schema):
    campaign = fields.String(required=True)
    targets = fields.List(fields.Nested(TargetOut), required=True)


@blp.route("", methods=["POST"])
@requires("admin")
@blp.arguments(CampaignIn)
@blp.response(201, CampaignOut)
@problems(_409="A campaign with this code exists.")
@transaction
def create(body):
    """Start a campaign: its dates and time zone decide which day each submission counts on."""
    session = db.session()
    campaign = campaigns.create(session, actor=current().user, **body)
    return campaign


@blp.route("", methods=["GET"])
@requires("admin", "hq", "lead", "volunteer")
@blp.response(200, CampaignList)
def list_campaigns():
    """Every campaign, so a phone or a page can offer them by name."""
    return {"items": campaigns.all_campaigns(db.session())}


@blp.route("/<code>/targets", methods=["PUT"])
@requires("admin")
@blp.arguments(TargetIn(many=True))
@blp.response(200, TargetList)
@problems(_404="No campaign with this code.")
@transaction
def put_targets(items, code):
    """Set the listed targets (a null value removes one) and keep the others, so targets can be
    sent ward by ward; answers all of the campaign's own targets."""
    session = db.session()
    campaign = campaigns.require(session, code)
    campaigns.set_targets(session, campaign, items, current().user)
    return {"campaign": campaign.code, "targets": campaigns.target_rows(session, campaign)}
