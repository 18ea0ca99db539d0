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
from ..auth.views import token_pair

blp = Blueprint("devices", __name__, url_prefix="/api/v1", description="Devices")


class CodeIn(Schema):
    volunteer = Text(required=True, max_length=64)
    org_units = fields.List(Code(), required=True, validate=validate.Length(min=1, max=100))


class CodeOut(Schema):
    code = fields.String()
    expires_at = fields.AwareDateTime()


class EnrollIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = Name(required=True)


class EnrollOut(Schema):
    device_id = fields.String()
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()


class DeviceOut(Schema):
    device_id = fields.String(attribute="id")
    name = fields.String()
    volunteer = fields.Function(lambda d: d.user_id)
    org_units = fields.Function(lambda d: sorted(u.code for u in d.org_units))
    created_at = fields.AwareDateTime()
    revoked_at = fields.AwareDateTime()


class DeviceList(Schema):
    items = fields.List(fields.Nested(DeviceOut))


@blp.route("/enrollment-codes", methods=["POST"])
@requires("admin", "lead")
@blp.arguments(CodeIn)
@blp.response(201, CodeOut)
def create_code(body):
    session = db.session()
    code, expires_at = devices.create_code(
        session, current().user, body["volunteer"], body["org_units"]
    )
    session.commit()
    return {"code": code, "expires_at": expires_at}


@blp.route("/devices/enroll", methods=["POST"])
@blp.arguments(EnrollIn)
@blp.response(201, EnrollOut)
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
    return {"items": devices.list_in_scope(db.session(), current().scope)}


@blp.route("/devices/<device_id>", methods=["DELETE"])
@requires("admin", "lead")
@blp.response(204)
def revoke(device_id):
    session = db.session()
    devices.revoke(session, current().user, device_id)
    session.commit()
