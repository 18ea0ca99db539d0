"""Enrolment codes, device enrolment and revocation."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from sync import devices
from sync.fields import Code, Name, Text

from .. import db, throttle
from ..auth import refresh
from ..auth.principal import current, requires, unauthorized
from ..auth.views import TokenPair, token_pair
from ..openapi import problems

blp = Blueprint("devices", __name__, url_prefix="/api/v1", description="Devices")


class CodeIn(Schema):
    volunteer = Text(required=True, max_length=64)
    org_units = fields.List(Code(), required=True, validate=validate.Length(min=1, max=100))


class CodeOut(Schema):
    code = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)


class EnrollIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = Name(required=True)


class EnrollOut(TokenPair):
    device_id = fields.String(required=True)


class DeviceOut(Schema):
    device_id = fields.String(attribute="id", required=True)
    name = fields.String(required=True)
    volunteer = fields.Function(
        lambda d: d.user_id,
        required=True,
        metadata={"type": "integer", "description": "The volunteer's user id."},
    )
    org_units = fields.Function(
        lambda d: sorted(u.code for u in d.org_units),
        required=True,
        metadata={"type": "array", "items": {"type": "string"}},
    )
    created_at = fields.AwareDateTime(required=True)
    revoked_at = fields.AwareDateTime(
        required=True, allow_none=True, metadata={"description": "null while the device works."}
    )


class DeviceList(Schema):
    items = fields.List(fields.Nested(DeviceOut), required=True)


@blp.route("/enrollment-codes", methods=["POST"])
@requires("admin", "lead")
@blp.arguments(CodeIn)
@blp.response(201, CodeOut)
def create_code(body):
    """A one-use code that enrols one phone for a volunteer, limited to org units within both
    the volunteer's and the caller's scope: the code is the phone's only credential."""
    session = db.session()
    code, expires_at = devices.create_code(
        session, current().user, body["volunteer"], body["org_units"]
    )
    session.commit()
    return {"code": code, "expires_at": expires_at}


@blp.route("/devices/enroll", methods=["POST"])
@blp.arguments(EnrollIn)
@blp.response(201, EnrollOut)
@problems(
    _401="The enrolment code is unknown, used or expired.",
    _429="Too many enrolment attempts from this address; wait Retry-After seconds.",
)
def enroll(body):
    """Enrol a phone with a one-use code (no token: the code is the credential).

    Failed enrolments are limited per phone (30 a minute from one address, 429 past that),
    so codes cannot be guessed; many phones enrolling at one briefing are not held back.
    """
    answer = throttle.guarded(
        throttle.ENROLL,
        throttle.client_address(),
        "failed enrolments from this address",
        lambda: _enroll(body["code"], body["name"]),
    )
    if answer is None:
        raise unauthorized("The enrolment code is unknown, used or expired.")
    return answer


def _enroll(code: str, name: str) -> dict | None:
    session = db.session()
    enrollment = devices.peek_code(session, code)
    if enrollment is None:
        return None
    rotation = refresh.start_family(
        session, enrollment.volunteer_id, current_app.config["REFRESH_TOKEN_TTL"]
    )
    try:
        device = devices.enroll(session, code, name, rotation.family_id)
    except devices.EnrollmentRefused:
        session.rollback()
        return None
    session.commit()
    return {"device_id": device.id, **token_pair(rotation, device.id)}


@blp.route("/devices", methods=["GET"])
@requires("admin", "lead")
@blp.response(200, DeviceList)
def list_devices():
    """The devices enrolled within the caller's scope, revoked ones included."""
    return {"items": devices.list_in_scope(db.session(), current().scope)}


@blp.route("/devices/<device_id>", methods=["DELETE"])
@requires("admin", "lead")
@blp.response(204)
@problems(_404="No such device in your scope.")
def revoke(device_id):
    """Revoke a lost or stolen phone: its tokens stop working at once, on every worker."""
    session = db.session()
    devices.revoke(session, current().user, device_id)
    session.commit()
