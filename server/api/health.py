"""``/healthz`` (the process is up) and ``/readyz`` (the database answers, schema at head)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from migrations.api import is_at_head

from .. import db
from ..errors import problem

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """The process is up: a load balancer's liveness probe, which needs no database."""
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz():
    """The database answers and its schema is at head, so a new host takes traffic only
    once it can serve it."""
    try:
        with db.engine().connect() as connection:
            at_head = is_at_head(connection)
    except Exception:  # noqa: BLE001 - any failure to reach the database means "not ready"
        return problem(503, "The database does not answer.", headers={"Retry-After": "5"})
    if not at_head:
        return problem(503, "The database schema is not at the latest migration.")
    return jsonify(status="ready")
