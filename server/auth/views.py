"""``/api/v1/auth``: log in and trade a refresh token for a new pair."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from sync.forms.fields import Text
from sync.models import Device

from .. import db, throttle
from ..openapi import problems
from ..transaction import transaction
from . import refresh
from .principal import unauthorized
from .tokens import KeyRing

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in and refresh")


class LoginIn(Schema):
    username = Text(required=True, max_length=64)
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class RefreshIn(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenPair(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, validate=validate.OneOf(["Bearer"]))
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})


def token_pair(rotation: refresh.Rotation, device_id: str | None = None) -> dict:
    ring = KeyRing.from_config(current_app.config)
    return {
        "access_token": ring.issue(str(rotation.user_id), rotation.family_id, device_id),
        "refresh_token": rotation.refresh_token,
        "token_type": "Bearer",
        "expires_in": ring.ttl_seconds,
    }


@blp.route("/login", methods=["POST"])
@blp.arguments(LoginIn)
@blp.response(200, TokenPair)
@problems(
    _401="Unknown username or wrong password (the same answer for both).",
    _429="Too many failed logins for this username; wait Retry-After seconds.",
)
@transaction
def login(body):
    """Log in with a username and password: a new token pair.

    401 alike for an unknown user and a wrong password; after 10 failed logins for one
    username (however it is spelled) within 15 minutes, 429 with ``Retry-After``.
    """
    session = db.session()
    user = throttle.login(body["username"], body["password"])
    if user is None:
        raise unauthorized("Unknown username or wrong password.")
    rotation = refresh.start_family(session, user.id, current_app.config["REFRESH_TOKEN_TTL"])
    return token_pair(rotation)


@blp.route("/refresh", methods=["POST"])
@blp.arguments(RefreshIn)
@blp.response(200, TokenPair)
@problems(_401="The refresh token is unknown, expired, or was reused (its family is revoked).")
@transaction
def refresh_tokens(body):
    """Trade a refresh token for a new pair; a reused one ends its whole session, except a
    resend within the grace window, since a phone on a bad link often loses the answer."""
    session = db.session()
    try:
        rotation = refresh.rotate(
            session,
            body["refresh_token"],
            current_app.config["REFRESH_TOKEN_TTL"],
            current_app.config["REFRESH_GRACE_S"],
        )
    except refresh.RefreshRejected as exc:
        raise unauthorized(str(exc)) from exc
    device = session.scalar(select(Device).where(Device.family_id == rotation.family_id))
    return token_pair(rotation, device.id if device else None)
