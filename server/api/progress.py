"""``/api/v1/progress``: totals, children and the daily series for an org unit."""

from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from sync import campaigns, orgunits
from sync.errors import NotFound
from sync.fields import Code
from sync.progress import progress

from .. import db
from ..auth.principal import current, requires
from ..errors import ApiError

blp = Blueprint("progress", __name__, url_prefix="/api/v1/progress", description="Progress")


class ProgressQuery(Schema):
    campaign = Code(required=True)
    org_unit = Code(required=True)
    daily = fields.Boolean(load_default=False)


@blp.route("", methods=["GET"])
@requires("admin", "hq", "lead")
@blp.arguments(ProgressQuery, location="query")
def read(query):
    session = db.session()
    campaign = campaigns.require(session, query["campaign"])
    unit = orgunits.get(session, query["org_unit"])
    if unit is None:
        raise NotFound(f"No org unit '{query['org_unit']}'.")
    if not current().scope.covers(unit):
        raise ApiError(403, "This org unit lies outside your scope.")
    return jsonify(progress(session, campaign, unit, query["daily"]))
