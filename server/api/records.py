"""``/api/v1/records/<id>/correct``: a lead's correction of an activation record."""

from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from sync.errors import Invalid
from sync.forms.fields import Note
from sync.forms.schemas import MAX_INT32, PHONE_OWNERS, CorrectionValues, UUIDString
from sync.review import decisions
from sync.rules.activations import NEGATIVES, RUNGS, outcomes_of, status_of, visible_fields

from .. import db
from ..auth.principal import current, requires
from ..openapi import problems
from ..transaction import transaction

blp = Blueprint("records", __name__, url_prefix="/api/v1/records", description="Corrections")


class CorrectIn(Schema):
    values = fields.Nested(CorrectionValues, required=True, metadata={"minProperties": 1})
    reason = Note(required=True, min_length=1)


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


@blp.route(f"/<int(max={MAX_INT32}):record_id>/correct", methods=["POST"])
@requires("admin", "lead")
@blp.arguments(CorrectIn)
@blp.response(200, CorrectedRecord)
@problems(_404="No such record in your scope.")
@transaction
def correct(body, record_id):
    """Correct an activation record: the only way to move a status down, always with a reason,
    and written to the audit log."""
    if not body["values"]:
        raise Invalid.field("values", "Give at least one value.")
    session = db.session()
    record = decisions.correct_record(
        session, current().user, record_id, body["values"], body["reason"]
    )
    return jsonify(
        record_id=record.id,
        record_version=record.version,
        status=status_of(record.state),
        outcomes=outcomes_of(record.state),
        **visible_fields(record.state),
    )
