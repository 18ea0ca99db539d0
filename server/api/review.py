"""``/api/v1/conflicts`` and ``/api/v1/records/<id>/correct``: the lead's review queue."""

from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sync import campaigns, orgunits, review
from sync.errors import Invalid, NotFound
from sync.fields import Code, Note
from sync.forms import CorrectionValues
from sync.merge import outcomes_of, status_of, visible_fields
from sync.models import OrgUnit, ReviewItem

from .. import db
from ..auth.principal import current, requires

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
    values = fields.Nested(CorrectionValues)
    confirm = StrictBoolean()
    reason = Note(load_default=None)

    @validates_schema
    def _one_of(self, data, **_):
        if ("values" in data) == ("confirm" in data):
            raise ValidationError("Give either values or confirm.", "_schema")


class CorrectIn(Schema):
    values = fields.Nested(CorrectionValues, required=True)
    reason = Note(required=True, min_length=1)


@blp.route("/conflicts", methods=["GET"])
@requires("admin", "lead")
@blp.arguments(ListQuery, location="query")
def list_conflicts(query):
    session = db.session()
    campaign = campaigns.require(session, query["campaign"])
    unit = None
    if query["org_unit"] is not None:
        unit = orgunits.get(session, query["org_unit"])
        if unit is None or not current().scope.covers(unit):
            raise NotFound(f"No org unit '{query['org_unit']}' in your scope.")
    items = review.list_items(session, campaign, current().scope, unit, query["status"])
    return jsonify(items=items)


@blp.route("/conflicts/<int:item_id>/resolve", methods=["POST"])
@requires("admin", "lead")
@blp.arguments(ResolveIn)
def resolve(body, item_id):
    session = db.session()
    item = review.resolve(
        session,
        current().user,
        item_id,
        values=body.get("values"),
        confirm=body.get("confirm"),
        reason=body.get("reason"),
    )
    session.commit()
    return jsonify(_describe(session, item))


@blp.route("/records/<int:record_id>/correct", methods=["POST"])
@requires("admin", "lead")
@blp.arguments(CorrectIn)
def correct(body, record_id):
    if not body["values"]:
        raise Invalid.field("values", "Give at least one value.")
    session = db.session()
    record = review.correct_record(
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
    return review.describe(item, session.get(OrgUnit, item.org_unit_id).code)
