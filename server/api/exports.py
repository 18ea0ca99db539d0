"""``/api/v1/exports`` for headquarters' scripts."""

from __future__ import annotations

import os
import tempfile

import xlsxwriter
from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from sync.admin import campaigns, orgunits
from sync.errors import Forbidden, NotFound
from sync.exports import formats, pg_copy, submissions, summaries
from sync.forms.fields import Code
from sync.forms.schemas import FORM_NAMES

from .. import db, metrics
from ..auth.principal import current, requires
from ..errors import ApiError
from ..openapi import problems

blp = Blueprint("exports", __name__, url_prefix="/api/v1/exports", description="Exports")
READERS = ("admin", "hq", "lead", "api_key")
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


NEXT_CURSOR = {
    "X-Next-Cursor": {
        "description": "Pass as after= next time to get only what came since.",
        "required": True,
        "schema": {"type": "string"},
    }
}


def files(*formats: str, headers: dict | None = None):
    """Document a 200 served as a file, in each of ``formats``: streamed, not JSON."""
    content = {
        MIMETYPES[f].split(";")[0]: {
            "schema": {"type": "string", "format": "binary" if f == "xlsx" else None}
        }
        for f in formats
    }
    for media in content.values():
        media["schema"] = {k: v for k, v in media["schema"].items() if v is not None}
    response = {"description": f"The file, as {', '.join(formats)} (format=).", "content": content}
    if headers:
        response["headers"] = headers
    return blp.doc(responses={200: response})


class SubmissionsQuery(Schema):
    campaign = Code(required=True)
    org_unit = Code(load_default=None)
    form = fields.String(
        load_default=None,
        validate=validate.OneOf(FORM_NAMES),
        metadata={"description": "Required for csv; xlsx without it: one sheet per form."},
    )
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "ndjson", "xlsx"]))
    after = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "The X-Next-Cursor of an earlier export; others are 400."},
    )

    @validates_schema
    def _form_for_csv(self, data, **_):
        if data["format"] == "csv" and data["form"] is None:
            raise SchemaError("CSV needs a form.", "form")


class UnitQuery(Schema):
    campaign = Code(required=True)
    org_unit = Code(required=True)
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]))


def _place(query):
    session = db.session()
    campaign = campaigns.require(session, query["campaign"])
    unit = None
    if query.get("org_unit") is not None:
        unit = orgunits.get(session, query["org_unit"])
        if unit is None:
            raise NotFound(f"No org unit '{query['org_unit']}'.")
        if not current().scope.covers(unit):
            raise Forbidden("This org unit lies outside your scope.")
    return session, campaign, unit


def _xlsx(export: str, sheets: list[tuple[str, list[str], object]]) -> Response:
    """Write the workbook row by row (constant memory) to a temporary file, then stream it."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    for name, header, rows in sheets:
        sheet = workbook.add_worksheet(name[:31])
        sheet.write_row(0, 0, header)
        for r, row in enumerate(rows, start=1):
            sheet.write_row(r, 0, ["" if row.get(c) is None else row.get(c) for c in header])
    workbook.close()

    def chunks():
        try:
            with open(path, "rb") as f:
                while chunk := f.read(65536):
                    yield chunk
        finally:
            os.unlink(path)

    return Response(metrics.counted(export, "xlsx", chunks()), mimetype=MIMETYPES["xlsx"])


def _streamed(stream_session, campaign, scope, unit, form, after, last, fmt):
    """Rows read with a session of the stream's own, closed when the stream ends or the
    client goes away, so no transaction outlives the response."""
    try:
        place = (stream_session, campaign, scope, unit, form, after, last)
        if fmt == "csv" and stream_session.get_bind().dialect.name == "postgresql":
            yield from formats.csv_lines(submissions.columns(form), [])  # the header
            yield from pg_copy.copy_csv(*place)
        elif fmt == "csv":
            yield from formats.csv_lines(submissions.columns(form), submissions.submissions(*place))
        else:
            yield from formats.ndjson_lines(submissions.submissions(*place))
    finally:
        stream_session.close()


@blp.route("/submissions", methods=["GET"])
@requires(*READERS)
@blp.arguments(SubmissionsQuery, location="query")
@files("csv", "ndjson", "xlsx", headers=NEXT_CURSOR)
@problems(
    _400="The after cursor is not one this server issued, or the request is malformed.",
    _404="No campaign or org unit with this code.",
)
def export_submissions(query):
    """The submissions in scope, streamed in commit order, with the cursor that fetches only
    what comes after, so a nightly script never reads a row twice."""
    session, campaign, unit = _place(query)
    try:
        after = submissions.decode_cursor(query["after"])
    except submissions.BadCursor as exc:
        raise ApiError(400, str(exc), errors={"after": [str(exc)]}) from exc
    scope = current().scope
    forms = [query["form"]] if query["form"] else list(submissions.DATA_COLUMNS)
    reader = db.open_reader()  # the cursor and the rows from one server, the replica's
    streaming = False
    try:
        last = max(after, submissions.upto(reader, campaign))  # positions compare as tuples
        if query["format"] == "xlsx":
            response = _xlsx(
                "submissions",
                [
                    (
                        f,
                        submissions.columns(f),
                        submissions.submissions(reader, campaign, scope, unit, f, after, last),
                    )
                    for f in forms
                ],
            )
        else:
            body = _streamed(
                reader, campaign, scope, unit, query["form"], after, last, query["format"]
            )
            streaming = True  # the stream closes the reader
            body = metrics.counted("submissions", query["format"], body)
            response = Response(body, mimetype=MIMETYPES[query["format"]])
    finally:
        if not streaming:
            reader.close()
    response.headers["X-Next-Cursor"] = submissions.encode_cursor(last)
    return response


@blp.route("/progress", methods=["GET"])
@requires(*READERS, session=True)
@blp.arguments(UnitQuery, location="query")
@files("csv", "xlsx")
@problems(_404="No campaign or org unit with this code.")
def export_progress(query):
    """One row per org unit of the subtree, root included, every metric beside its target.

    The lead's progress page links here: a logged-in page session will do instead of a token."""
    _, campaign, unit = _place(query)
    with db.open_reader() as reader:
        rows = list(summaries.progress_rows(reader, campaign, unit))
    header = summaries.progress_columns()
    if query["format"] == "xlsx":
        return _xlsx("progress", [("progress", header, rows)])
    body = list(metrics.counted("progress", "csv", formats.csv_lines(header, rows)))
    return Response(body, mimetype=MIMETYPES["csv"])


@blp.route("/follow-ups", methods=["GET"])
@requires(*READERS, session=True)
@blp.arguments(UnitQuery, location="query")
@files("csv", "xlsx")
@problems(_404="No campaign or org unit with this code.")
def export_follow_ups(query):
    """The citizens with no smartphone, to visit again when a family member's phone can do.

    The lead's progress page links here: a logged-in page session will do instead of a token."""
    _, campaign, unit = _place(query)
    with db.open_reader() as reader:
        rows = list(summaries.follow_ups(reader, campaign, unit))  # a ward's list: small
    if query["format"] == "xlsx":
        return _xlsx("follow-ups", [("follow-ups", summaries.FOLLOW_UP_COLUMNS, rows)])
    lines = formats.csv_lines(summaries.FOLLOW_UP_COLUMNS, rows)
    body = metrics.counted("follow-ups", "csv", lines)
    return Response(body, mimetype=MIMETYPES["csv"])
