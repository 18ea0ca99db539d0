"""``/api/v1/devices``: enrolment with a code, the phone's receipt, listing and revocation."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from sync.accounts import devices, openrosa_devices
from sync.forms.fields import Code, Name, Text

from .. import db, openrosa, throttle
from ..auth import refresh
from ..auth.principal import current, requires, unauthorized
from ..auth.views import TokenPair, token_pair
from ..openapi import problems
from ..transaction import transaction

blp = Blueprint("devices", __name__, url_prefix="/api/v1/devices", description="Devices")
CODE_REFUSED = "The enrolment code is unknown, used or expired."


class EnrollIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = Name(required=True)


class EnrollOut(TokenPair):
    device_id = fields.String(required=True)


class DeviceOut(Schema):
    device_id = fields.String(attribute="id", required=True)
    name = fields.String(required=True)
    kind = fields.Function(
        lambda d: "openrosa" if d.openrosa_key_hash else "app",
        required=True,
        metadata={
            "type": "string",
            "enum": ["app", "openrosa"],
            "description": "app: enrolled with a code (the phone app, the Python client); "
            "openrosa: ODK Collect or Enketo, with the key in its server URL.",
        },
    )
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


class OpenRosaDeviceIn(Schema):
    volunteer = Text(required=True, max_length=64)
    org_units = fields.List(Code(), required=True, validate=validate.Length(min=1, max=100))
    name = Name(required=True)


class OpenRosaDeviceOut(Schema):
    device_id = fields.String(required=True)
    server_url = fields.String(
        required=True,
        metadata={
            "description": "<server>/openrosa/key/<key>: the key is the device's credential, "
            "shown this once (only its hash is kept)."
        },
    )
    collect_settings = fields.String(
        required=True,
        metadata={
            "description": "ODK Collect's settings JSON (server_url, form_update_mode "
            "match_exactly, autosend wifi_and_cellular, the project's name), zlib-compressed "
            "and base64-encoded: what Collect's settings QR code holds."
        },
    )


class DeviceList(Schema):
    items = fields.List(fields.Nested(DeviceOut), required=True)


class ReceiptOut(Schema):
    device_id = fields.String(required=True)
    name = fields.String(required=True)
    volunteer = fields.String(required=True)
    org_units = fields.List(fields.String(), required=True)
    accepted = fields.Integer(
        required=True, metadata={"description": "submissions this device sent that are stored"}
    )
    last_push_at = fields.AwareDateTime(
        required=True, allow_none=True, metadata={"description": "null before the first push"}
    )


@blp.route("/enroll", methods=["POST"])
@blp.arguments(EnrollIn)
@blp.response(201, EnrollOut)
@problems(
    _401="The enrolment code is unknown, used or expired.",
    _429="Too many enrolment attempts from this address; wait Retry-After seconds.",
)
def enroll(body):
    """Spend a one-use enrolment code on a new device; the code is the only credential.

    The same code and name presented again within ``WARDSYNC_REFRESH_GRACE_S`` of its use,
    before the device first refreshed, is the retry of an answer that was lost: it answers the
    same device with a working pair (the first pair stays valid too). Any other reuse of a used
    code is refused, and the device it made loses its tokens: the code has leaked. Failed
    enrolments are limited per phone (30 a minute from one address, 429 past that), so codes
    cannot be guessed; many phones enrolling at one briefing are not held back.
    """
    answer = throttle.guarded(
        throttle.ENROLL,
        throttle.client_address(),
        "failed enrolments from this address",
        lambda: _enroll(body["code"], body["name"]),
    )
    if answer is None:
        raise unauthorized(CODE_REFUSED)
    return answer


@transaction
def _enroll(code: str, name: str) -> dict | None:
    session = db.session()
    config = current_app.config
    enrollment = devices.lock_code(session, code)
    if enrollment is None:
        return None
    if enrollment.used_at is None:
        rotation = refresh.start_family(
            session, enrollment.volunteer_id, config["REFRESH_TOKEN_TTL"]
        )
        try:
            device = devices.enroll(session, enrollment, name, rotation.family_id)
        except devices.EnrollmentRefused:
            session.rollback()  # nothing of this attempt is kept
            return None
    else:
        try:
            device = devices.replay(session, enrollment, name, config["REFRESH_GRACE_S"])
        except devices.EnrollmentRefused:
            return None  # a refusal, yet committed: the leaked code's device stays revoked
        rotation = refresh.add_first_token(
            session, device.family_id, device.user_id, config["REFRESH_TOKEN_TTL"]
        )
    return {"device_id": device.id, **token_pair(rotation, device.id)}


@blp.route("/openrosa", methods=["POST"])
@requires("admin", "lead")
@blp.arguments(OpenRosaDeviceIn)
@blp.response(201, OpenRosaDeviceOut)
@problems(_403="The org units lie outside your scope.")
@transaction
def create_openrosa(body):
    """A device for ODK Collect or Enketo: its server URL holds its key, shown this once.

    The org units must lie within the volunteer's own scope and the caller's, as for an
    enrolment code. ``DELETE /api/v1/devices/<device_id>`` revokes it: the next request with
    its key is refused.
    """
    device, key = openrosa_devices.create(
        db.session(), current().user, body["volunteer"], body["org_units"], body["name"]
    )
    return openrosa_device_answer(device.id, key, body["name"])


def openrosa_device_answer(device_id: str, key: str, name: str) -> dict:
    url = openrosa.server_url(key)
    return {
        "device_id": device_id,
        "server_url": url,
        "collect_settings": openrosa.collect_settings(url, f"wardsync: {name}"),
    }


@blp.route("", methods=["GET"])
@requires("admin", "lead")
@blp.response(200, DeviceList)
def list_devices():
    """The devices enrolled within the caller's scope, revoked ones included."""
    return {"items": devices.list_in_scope(db.session(), current().scope)}


@blp.route("/me", methods=["GET"])
@requires("volunteer", device=True)
@blp.response(200, ReceiptOut)
@blp.alt_response(401, description="No, an expired or a revoked device token.")
@blp.alt_response(403, description="Not a device token.")
def my_device():
    """The calling phone's receipt: who it is, its wards, and how many of the forms it sent
    the server has stored ("the server has 37 of your 37")."""
    session = db.session()
    device = devices.get(session, current().device_id)
    return devices.receipt(session, device)


@blp.route("/<device_id>", methods=["DELETE"])
@requires("admin", "lead")
@blp.response(204)
@problems(_404="No such device in your scope.")
@transaction
def revoke(device_id):
    """Revoke a lost or stolen phone: its tokens stop working at once, on every worker."""
    session = db.session()
    devices.revoke(session, current().user, device_id)
