"""``/api/v1/conflicts`` and ``/api/v1/records/<id>/correct``: the lead's review queue."""

from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sync.admin import campaigns, orgunits
from sync.errors import Invalid, NotFound
from sync.forms.fields import Code, Note
from sync.forms.schemas import MAX_INT32, PHONE_OWNERS, CorrectionValues, UUIDString
from sync.models import OrgUnit, ReviewItem
from sync.review import decisions, queue
from sync.rules.activations import NEGATIVES, RUNGS, outcomes_of, status_of, visible_fields

from .. import db
from ..auth.principal import current, requires
from ..openapi import problems

blp = Blueprint("review", __name__, url_prefix="/api/v1", description="Conflicts and corrections")


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


class CorrectIn(Schema):
    values = fields.Nested(CorrectionValues, required=True, metadata={"minProperties": 1})
    reason = Note(required=True, min_length=1)


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


class CorrectedRecord(Schema):
    record_id = fields.Integer(required=True)
    record_version = fields.Integer(required=True)
    status = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(RUNGS),
        metadata={"description": "The resolved ladder rung; null when none is reached."},
    )
    outcomes = fields.List(fields.String(validate=validate.OneOf(NEGATIVES)), required=True)
    household_id = UUIDString()
    household_address = fields.String()
    phone_owner = fields.String(validate=validate.OneOf(PHONE_OWNERS))
    note = fields.String()


@blp.route("/conflicts", methods=["GET"])
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
@blp.route(f"/conflicts/<int(max={MAX_INT32}):item_id>/resolve", methods=["POST"])
@requires("admin", "lead")
@blp.arguments(ResolveIn)
@blp.response(200, ReviewItemOut)
@problems(_404="No such review item in your scope.")
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
    session.commit()
    return jsonify(_describe(session, item))


@blp.route(f"/records/<int(max={MAX_INT32}):record_id>/correct", methods=["POST"])
@requires("admin", "lead")
@blp.arguments(CorrectIn)
@blp.response(200, CorrectedRecord)
@problems(_404="No such record in your scope.")
def correct(body, record_id):
    """Correct an activation record: the only way to move a status down, always with a reason,
    and written to the audit log."""
    if not body["values"]:
        raise Invalid.field("values", "Give at least one value.")
    session = db.session()
    record = decisions.correct_record(
        session, current().user, record_id, body["values"], body["reason"]
    )
    session.commit()
    return jsonify(
        record_id=record.id,
        record_version=record.version,
        status=status_of(record.state),
        outcomes=outcomes_of(record.state),
        **visible_fields(record.state),
    )


def _describe(session, item: ReviewItem) -> dict:
    return queue.describe(item, session.get(OrgUnit, item.org_unit_id).code)
