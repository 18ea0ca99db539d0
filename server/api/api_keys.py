"""``/api/v1/api-keys``: the keys headquarters' export scripts read with, stored hashed."""

from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from sync.accounts import api_keys
from sync.forms.fields import Code, Name
from sync.forms.schemas import MAX_INT32

from .. import db
from ..auth.principal import current, requires
from ..openapi import problems
from ..transaction import transaction

blp = Blueprint("api_keys", __name__, url_prefix="/api/v1/api-keys", description="API keys")


class ApiKeyIn(Schema):
    name = Name(required=True)
    scope = fields.String(required=True, validate=validate.OneOf(["export"]))
    org_units = fields.List(Code(), load_default=list, validate=validate.Length(max=100))


class ApiKeyOut(Schema):
    id = fields.Integer(required=True)
    key = fields.String(required=True, metadata={"description": "Shown this once only."})


@blp.route("", methods=["POST"])
@requires("admin")
@blp.arguments(ApiKeyIn)
@blp.response(201, ApiKeyOut)
@transaction
def create_api_key(body):
    """A key for an export script, limited to the given org units; stored hashed, so it is
    shown in this answer only."""
    session = db.session()
    key, secret = api_keys.create(
        session, body["name"], body["org_units"], current().user, body["scope"]
    )
    return jsonify(id=key.id, key=secret), 201


@blp.route(f"/<int(max={MAX_INT32}):key_id>", methods=["DELETE"])
@requires("admin")
@blp.response(204)
@problems(_404="No such API key.")
@transaction
def revoke_api_key(key_id):
    """Revoke an export key: its next request is refused."""
    session = db.session()
    api_keys.revoke(session, current().user, key_id)
