"""``/api/v1/org-units``: the org-unit tree."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from sync import orgunits
from sync.fields import Code, Name

from .. import db
from ..auth.principal import current, requires

blp = Blueprint("org_units", __name__, url_prefix="/api/v1/org-units", description="Org units")


class OrgUnitIn(Schema):
    code = Code(required=True)
    name = Name(required=True)
    parent = Code(load_default=None, allow_none=True)


class OrgUnitOut(Schema):
    code = fields.String()
    name = fields.String()
    parent = fields.Function(lambda u: u.parent.code if u.parent else None)
    depth = fields.Integer()


class ChildrenQuery(Schema):
    parent = Code(load_default=None)


class OrgUnitList(Schema):
    items = fields.List(fields.Nested(OrgUnitOut))


@blp.route("", methods=["POST"])
@requires("admin")
@blp.arguments(OrgUnitIn)
@blp.response(201, OrgUnitOut)
def create(body):
    session = db.session()
    unit = orgunits.create(session, body["code"], body["name"], body["parent"], current().user)
    session.commit()
    return unit


@blp.route("", methods=["GET"])
@requires("admin", "hq", "lead", "volunteer")
@blp.arguments(ChildrenQuery, location="query")
@blp.response(200, OrgUnitList)
def children(query):
    units = orgunits.children(db.session(), query["parent"], current().scope)
    return {"items": units}
