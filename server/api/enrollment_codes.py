"""``/api/v1/enrollment-codes``: the one-time codes a lead hands a volunteer to enrol a phone."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from sync.accounts import devices
from sync.forms.fields import Code, Text

from .. import db
from ..auth.principal import current, requires
from ..transaction import transaction

blp = Blueprint(
    "enrollment_codes",
    __name__,
    url_prefix="/api/v1/enrollment-codes",
    description="Enrolment codes",
)


class CodeIn(Schema):
    volunteer = Text(required=True, max_length=64)
    org_units = fields.List(Code(), required=True, validate=validate.Length(min=1, max=100))


class CodeOut(Schema):
    code = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)


@blp.route("", methods=["POST"])
@requires("admin", "lead")
@blp.arguments(CodeIn)
@blp.response(201, CodeOut)
@transaction
def create_code(body):
    """A one-use code that enrols one phone for a volunteer, limited to org units within both
    the volunteer's and the caller's scope: the code is the phone's only credential."""
    session = db.session()
    code, expires_at = devices.create_code(
        session, current().user, body["volunteer"], body["org_units"]
    )
    return {"code": code, "expires_at": expires_at}
