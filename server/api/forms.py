"""``/api/v1/forms``: the definitions of every form the server accepts, for the phones.

The same definitions (``sync.forms.definitions``) generate the schemas push validates with, so a
phone that renders and checks its forms from this answer saves exactly what the server will take.
"""

from __future__ import annotations

import hashlib
import json

from flask import jsonify, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from sync.forms import definitions

blp = Blueprint("forms", __name__, url_prefix="/api/v1", description="Form definitions")


class LabelOut(Schema):
    vi = fields.String(required=True)
    en = fields.String(required=True)


class ChoiceOut(Schema):
    value = fields.String(required=True)
    label = fields.Nested(LabelOut, required=True)


class FieldOut(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True, metadata={"enum": list(definitions.TYPES)})
    required = fields.Boolean(required=True)
    default = fields.Integer(metadata={"description": "the value the server fills in if absent"})
    choices = fields.List(fields.Nested(ChoiceOut))
    min = fields.Integer()
    max = fields.Integer()
    min_length = fields.Integer()
    max_length = fields.Integer()
    pattern = fields.String(
        metadata={"description": "the whole value must match, as with HTML's pattern attribute"}
    )
    decimals = fields.Integer(metadata={"description": "at most this many digits after the point"})
    label = fields.Nested(LabelOut, required=True)
    hint = fields.Nested(LabelOut)


class FormOut(Schema):
    form = fields.String(required=True)
    form_version = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"enum": ["state", "event"]})
    label = fields.Nested(LabelOut, required=True)
    form_fields = fields.List(
        fields.Nested(FieldOut), required=True, data_key="fields", attribute="fields"
    )


class FormList(Schema):
    forms = fields.List(fields.Nested(FormOut), required=True)


_DOCUMENT = definitions.document()
_BODY = json.dumps(_DOCUMENT, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_ETAG = hashlib.sha256(_BODY.encode()).hexdigest()[:32]


@blp.route("/forms", methods=["GET"])
@blp.response(200, FormList)
@blp.alt_response(304, description="Not modified: the definitions match the ETag sent.")
def list_forms():
    """Every form and version the server accepts: fields, types, limits, choices, labels.

    No token is needed (the definitions hold nothing private). The answer carries an ETag, so
    a phone checking for new definitions on every sync downloads them only when they change.
    """
    response = jsonify(_DOCUMENT)
    response.set_etag(_ETAG)
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)
