"""``/api/v1/conflicts``: the lead's review queue, and settling its items."""

from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sync.admin import campaigns, orgunits
from sync.errors import NotFound
from sync.forms.fields import Code, Note
from sync.forms.schemas import MAX_INT32, CorrectionValues
from sync.models import OrgUnit, ReviewItem
from sync.review import decisions, queue

from .. import db
from ..auth.principal import current, requires
from ..openapi import problems
from ..transaction import transaction

blp = Blueprint("conflicts", __name__, url_prefix="/api/v1/conflicts", description="Conflicts")


class ListQuery(Schema):
    campaign = Code(required=True)
    org_unit = Code(load_default=None)
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved"]))


class StrictBoolean(fields.Boolean):
    """``true`` or ``false`` only: "yes" or 1 do not settle a double delivery."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class ResolveIn(Schema):
    values = fields.Nested(
        CorrectionValues, metadata={"description": "For a field or status conflict."}
    )
    confirm = StrictBoolean(
        metadata={"description": "For a suspected double (give values or confirm, not both)."}
    )
    reason = Note(load_default=None)

    @validates_schema
    def _one_of(self, data, **_):
        if ("values" in data) == ("confirm" in data):
            raise ValidationError("Give either values or confirm.", "_schema")


class ReviewItemOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["field_conflict", "status_conflict", "suspected_double"]),
    )
    status = fields.String(required=True, validate=validate.OneOf(["open", "resolved"]))
    org_unit = fields.String(required=True)
    day = fields.Date(required=True)
    submissions = fields.List(fields.String(), required=True)
    fields_ = fields.Dict(
        data_key="fields",
        required=True,
        metadata={"description": "Per field: what is stored and what came in."},
    )
    opened_at = fields.AwareDateTime(required=True)
    record_id = fields.Integer(metadata={"description": "For conflicts of an activation record."})
    resolution = fields.Dict(metadata={"description": "Once resolved: how, and by whom."})
    resolved_at = fields.AwareDateTime(allow_none=True)


class ReviewList(Schema):
    items = fields.List(fields.Nested(ReviewItemOut), required=True)


@blp.route("", methods=["GET"])
@requires("admin", "lead")
@blp.arguments(ListQuery, location="query")
@blp.response(200, ReviewList)
@problems(_404="No such campaign, or no such org unit in your scope.")
def list_conflicts(query):
    """The review queue in the caller's scope: field and status conflicts and suspected double
    deliveries, which only a lead can settle."""
    session = db.session()
    campaign = campaigns.require(session, query["campaign"])
    unit = None
    if query["org_unit"] is not None:
        unit = orgunits.get(session, query["org_unit"])
        if unit is None or not current().scope.covers(unit):
            raise NotFound(f"No org unit '{query['org_unit']}' in your scope.")
    items = queue.list_items(session, campaign, current().scope, unit, query["status"])
    return jsonify(items=items)


# Ids wider than their integer column cannot exist: the route does not match them (404),
# rather than the database refusing the number (a 500).
@blp.route(f"/<int(max={MAX_INT32}):item_id>/resolve", methods=["POST"])
@requires("admin", "lead")
@blp.arguments(ResolveIn)
@blp.response(200, ReviewItemOut)
@problems(_404="No such review item in your scope.")
@transaction
def resolve(body, item_id):
    """Settle a review item: values for a conflict, confirm true/false for a suspected double.
    The counters change by the decision in the same transaction."""
    session = db.session()
    item = decisions.resolve(
        session,
        current().user,
        item_id,
        values=body.get("values"),
        confirm=body.get("confirm"),
        reason=body.get("reason"),
    )
    return jsonify(_describe(session, item))


def _describe(session, item: ReviewItem) -> dict:
    return queue.describe(item, session.get(OrgUnit, item.org_unit_id).code)
