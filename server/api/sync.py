"""``/api/v1/sync``: push a batch of submissions, pull the change feed (device tokens only)."""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask_smorest import Blueprint

from sync.feed import positions
from sync.feed.pull import pull as pull_changes
from sync.push import pipeline, state

from .. import db, gate, localise, metrics, request_log
from ..auth.principal import current, requires
from ..errors import ApiError
from ..openapi import problems
from ..transaction import transaction
from .sync_schemas import PullPage, PullQuery, PushIn, PushOut

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync", description="Push and pull")


def _batch() -> list:
    try:
        body = request.get_json()  # malformed JSON: 400; not JSON at all: 415 before this
    except RecursionError as exc:  # nested deeper than the parser goes: malformed for us
        raise ApiError(400, "The request body is nested too deeply.") from exc
    if not isinstance(body, dict) or not isinstance(body.get("submissions"), list):
        raise ApiError(
            422,
            'The body must be {"submissions": [...]}.',
            errors={"submissions": ["Must be a list of submissions."]},
        )
    unknown = sorted(set(body) - {"submissions"})
    if unknown:
        raise ApiError(422, "Unknown fields.", errors={k: ["Unknown field."] for k in unknown})
    submissions = body["submissions"]
    if len(submissions) > state.MAX_BATCH:
        raise ApiError(413, f"At most {state.MAX_BATCH} submissions per request.")
    return submissions


@blp.route("/push", methods=["POST"])
@gate.items_checked_by_view("submissions")  # one bad submission never rejects its neighbours
@requires("volunteer", device=True)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": PushIn}}})
@blp.response(200, PushOut)
@problems(
    429,
    _413=f"More than {state.MAX_BATCH} submissions, or a body over 5 MiB: nothing was stored.",
    _422='The body is not {"submissions": [...]}. An invalid submission is not a 422: it is '
    "answered rejected, with its errors, in the 200.",
)
@transaction
def push():
    """Store a batch of submissions from a phone, exactly once.

    Each item is validated on its own, so one invalid item never fails the batch: it is
    answered rejected in the 200, beside its neighbours' results. A 200 means every result is
    durable, so a phone whose answer was lost resends the same batch and changes nothing.
    """
    submissions = _batch()
    principal = current()
    device = state.DeviceContext(principal.device_id, principal.user_id, principal.scope)
    outcome = pipeline.push(
        db.session(), device, submissions, citizen_key=current_app.config["CITIZEN_ID_KEY"]
    )
    request_log.note_push(principal.device_id, outcome.results, submissions)
    return jsonify(
        results=localise.push_results(outcome.results),
        server_time=outcome.server_time.isoformat(),
        server_hlc=outcome.server_hlc,
    )


@blp.route("/pull", methods=["GET"])
@requires("volunteer", device=True)
@blp.arguments(PullQuery, location="query")
@blp.response(200, PullPage)
@problems(_400="The cursor is not one this server issued, or the request is malformed.")
def pull(query):
    """A page of what changed in the device's scope since the cursor, each entity once at its
    latest version, so a phone that was offline for a week catches up in a few pages."""
    try:
        page = pull_changes(db.session(), current().scope, query["cursor"], query["limit"])
    except positions.BadCursor as exc:
        raise ApiError(400, str(exc), errors={"cursor": [str(exc)]}) from exc
    metrics.PULLS.inc()
    metrics.PULL_CHANGES.inc(len(page["changes"]))
    return jsonify(page)
