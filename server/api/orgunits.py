"""``/api/v1/org-units``: the org-unit tree."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from sync.admin import orgunits
from sync.forms.fields import Code, Name

from .. import db
from ..auth.principal import current, requires
from ..openapi import problems
from ..transaction import transaction

blp = Blueprint("org_units", __name__, url_prefix="/api/v1/org-units", description="Org units")


class OrgUnitIn(Schema):
    code = Code(required=True)
    name = Name(required=True)
    parent = Code(load_default=None, allow_none=True)


class OrgUnitOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    parent = fields.Function(
        lambda u: u.parent.code if u.parent else None,
        required=True,
        metadata={"type": "string", "nullable": True, "description": "null for a root."},
    )
    depth = fields.Integer(required=True)


class ChildrenQuery(Schema):
    parent = Code(load_default=None)


class OrgUnitList(Schema):
    items = fields.List(fields.Nested(OrgUnitOut), required=True)


@blp.route("", methods=["POST"])
@requires("admin")
@blp.arguments(OrgUnitIn)
@blp.response(201, OrgUnitOut)
@problems(_409="An org unit with this code exists.")
@transaction
def create(body):
    """Add an org unit under a parent (or a root), so campaigns and scopes can name it."""
    session = db.session()
    unit = orgunits.create(session, body["code"], body["name"], body["parent"], current().user)
    return unit


@blp.route("", methods=["GET"])
@requires("admin", "hq", "lead", "volunteer")
@blp.arguments(ChildrenQuery, location="query")
@blp.response(200, OrgUnitList)
@problems(_404="No org unit with this parent code.")
def children(query):
    """The children of an org unit (the roots without ``parent``) within the caller's scope,
    so a page can walk the tree one level at a time."""
    units = orgunits.children(db.session(), query["parent"], current().scope)
    return {"items": units}
