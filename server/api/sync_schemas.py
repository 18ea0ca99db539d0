"""The shapes of push and pull, for the OpenAPI document.

A push is validated item by item in ``sync.push.pipeline`` (an invalid item is answered ``rejected``
inside a 200, never a 422), so nothing here validates a request: these schemas document it.
Each form's submission is built from ``sync.forms.schemas``, the schemas the server validates with,
so the document cannot drift from the rules.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from sync.forms import schemas
from sync.forms.fields import StrictInteger
from sync.push import state

from ..openapi import OneOfNested

RESULT_STATUSES = ("applied", "duplicate", "conflict", "rejected")
FLAGS = ("clock_suspect", "suspected_double")
ENTITIES = ("org_unit", "campaign", "target", "household", "activation")


def _submission(form: str, version: int, data: type[Schema]) -> type[Schema]:
    """The envelope of ``sync.forms.schemas`` with this form's name, version and data."""
    name = "".join(part.title() for part in form.split("_")) + f"V{version}Submission"
    return type(
        name,
        (schemas.Envelope,),
        {
            "form": fields.String(required=True, validate=validate.OneOf([form])),
            "form_version": StrictInteger(required=True, validate=validate.OneOf([version])),
            "data": fields.Nested(data, required=True),
            "__doc__": f"A {form} submission (version {version}).",
        },
    )


SUBMISSIONS = [_submission(form, version, data) for (form, version), data in schemas.FORMS.items()]


class PushIn(Schema):
    """A batch of submissions, each answered on its own in the 200: one that fails validation
    is a ``rejected`` result with its errors, and its neighbours are still stored."""

    submissions = fields.List(
        OneOfNested(SUBMISSIONS),
        required=True,
        validate=validate.Length(max=state.MAX_BATCH),
        metadata={"description": f"At most {state.MAX_BATCH} (more: 413)."},
    )


class PushResult(Schema):
    id = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The submission's id; null when the item had no string id."},
    )
    status = fields.String(required=True, validate=validate.OneOf(RESULT_STATUSES))
    original_status = fields.String(
        validate=validate.OneOf(["applied", "conflict"]),
        metadata={"description": "For a duplicate: the first receipt's status."},
    )
    record_id = fields.Integer(metadata={"description": "For an activation: its record."})
    record_version = fields.Integer()
    conflict_id = fields.Integer(metadata={"description": "The review item this opened."})
    flags = fields.List(fields.String(validate=validate.OneOf(FLAGS)))
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "For a rejected item: field path to messages."},
    )


class PushOut(Schema):
    results = fields.List(fields.Nested(PushResult), required=True)
    server_time = fields.AwareDateTime(required=True)
    server_hlc = fields.String(required=True)


class PullQuery(Schema):
    cursor = fields.String(
        load_default=None,  # one the server cannot read is 400, whatever its length
        metadata={"description": "The next_cursor of the previous page; none: from the start."},
    )
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000))


class Change(Schema):
    entity = fields.String(required=True, validate=validate.OneOf(ENTITIES))
    id = fields.String(required=True)
    op = fields.String(required=True, validate=validate.OneOf(["put", "delete"]))
    version = fields.Integer(required=True)
    data = fields.Dict(
        required=True,
        metadata={"description": "The entity's current state (empty for a delete)."},
    )


class PullPage(Schema):
    changes = fields.List(fields.Nested(Change), required=True)
    next_cursor = fields.String(required=True)
    has_more = fields.Boolean(required=True)
    reset = fields.Boolean(required=True)
