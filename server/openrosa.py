"""``/openrosa/key/<key>/…``: ODK Collect and Enketo, through the OpenRosa APIs.

The key in the path is the device's credential (``sync.accounts.openrosa_devices``): Collect
sends no bearer token, and keeps one server URL per project. Under it:

- ``GET formList``: the OpenRosa form list, one XForm per built-in form, with the device's
  campaigns and wards as choices (``sync.openrosa.xforms``);
- ``GET forms/<form_id>``: one XForm; ``GET forms/<form_id>/manifest`` its media, the
  device's households (``GET forms/<form_id>/media/households.csv``), from which Collect picks
  a household offline, fills in its address and warns before a second gift;
- ``HEAD submission``: 204 with ``X-OpenRosa-Accept-Content-Length`` (what Collect asks first);
- ``POST submission``: the multipart body, its ``xml_submission_file`` part parsed by
  ``sync.openrosa.instances`` into the items of a push, which go through ``sync.push.pipeline``
  exactly like a JSON batch, as this device, in one transaction (an edit's void and its new
  event are stored together or not at all). Other parts (photos, ``*isIncomplete*``) are
  accepted and ignored: the built-in forms have no media questions.

Answers: 201 for applied, duplicate or conflict; 409 for an instanceID used before for other
content; 400 naming the field for invalid data; 401 for a key that is unknown or revoked; 413
for a body over 10 MiB, counted as it is read, chunked or not (``server.transport``). Every
answer under ``/openrosa/`` (404s and 503s included) carries ``X-OpenRosa-Version: 1.0``, and
every error is an ``OpenRosaResponse`` whose message Collect shows the volunteer, in the
language of ``Accept-Language`` when it asks for Vietnamese. The key never reaches a log
(``server.redact``).
"""

from __future__ import annotations

import base64
import json
import zlib

from flask import Blueprint, Flask, Response, current_app, g, request, url_for
from flask_babel import force_locale, gettext

from sync.accounts import openrosa_devices
from sync.accounts.scope import Scope
from sync.openrosa import edits, households, instances, listings, xforms
from sync.push import pipeline, state

from . import db, localise, request_log, transport
from .auth.principal import Principal
from .errors import PROBLEM, ApiError
from .transaction import transaction

PREFIX = "/openrosa/"
MAX_BYTES = instances.MAX_XML_BYTES  # 10 MiB: the whole body, attachments included
VERSION_HEADER = ("X-OpenRosa-Version", "1.0")
XML = "text/xml; charset=utf-8"
XML_PART = "xml_submission_file"
REFUSED = "The submission was refused."
UNKNOWN_KEY = "This device is unknown or has been revoked; ask your ward lead for a new QR code."

bp = Blueprint("openrosa", __name__, url_prefix="/openrosa/key/<key>")


# --- the device, from the key in the path ---------------------------------------------------


@bp.url_value_preprocessor
def _take_key(endpoint, values) -> None:
    g.openrosa_key = (values or {}).pop("key", None)


@bp.url_defaults
def _give_key(endpoint, values) -> None:
    if "key" not in values and g.get("openrosa_key"):
        values["key"] = g.openrosa_key


@bp.before_request
def _authenticate() -> None:
    request.max_content_length = MAX_BYTES
    request.max_form_memory_size = MAX_BYTES
    found = openrosa_devices.authenticate(db.session(), g.openrosa_key)
    if found is None:
        raise ApiError(401, UNKNOWN_KEY)
    g.principal = Principal(
        found.user_id,
        found.role,
        None,
        Scope(everything=False, paths=found.paths),
        device_id=found.device_id,
    )


def _choices() -> xforms.Choices | None:
    """The device's campaigns and wards, and households picked from the manifest's file;
    None when it has no campaign or no ward (no form to fill)."""
    campaigns, wards = openrosa_devices.choices(db.session(), g.principal.scope)
    db.session().commit()  # a read: end it, so SQLite's writer is never kept waiting
    if not campaigns or not wards:
        return None
    return xforms.Choices(campaigns=campaigns, wards=wards, households=True)


def _known_form(form_id: str):
    known = {f.form: f for f in xforms.XFORMS}
    choices = _choices()
    if form_id not in known or choices is None:
        raise ApiError(404, f"No form '{form_id}' for this device.")
    return known[form_id], choices


def _households_file() -> bytes:
    rows = households.rows_for(db.session(), g.principal.scope)
    db.session().commit()
    return households.households_csv(rows)


# --- forms ----------------------------------------------------------------------------------


@bp.get("/formList")
def form_list():
    """The OpenRosa form list; ``?formID=`` keeps one form (as Enketo asks)."""
    choices = _choices()
    wanted = request.args.get("formID")
    entries = []
    for form in xforms.XFORMS if choices else ():
        if wanted is not None and form.form != wanted:
            continue
        offered = xforms.published(form, choices)
        entries.append(
            listings.FormListEntry(
                form_id=form.form,
                name=form.label.vi,
                version=offered.version,
                hash=offered.hash,
                download_url=url_for("openrosa.form", form_id=form.form, _external=True),
                manifest_url=url_for("openrosa.manifest", form_id=form.form, _external=True),
            )
        )
    return _xml(listings.form_list(entries))


@bp.get("/forms/<form_id>")
def form(form_id: str):
    """One XForm, as the form list's ``downloadUrl`` names it."""
    form, choices = _known_form(form_id)
    return _xml(xforms.xform(form, choices))


@bp.get("/forms/<form_id>/manifest")
def manifest(form_id: str):
    """The form's media: the device's households (``households.csv``), so that Collect picks
    a household by its address offline and warns before a second gift of a kind in a round.
    Its hash changes when the households or their gifts do; the form's own hash does not."""
    _known_form(form_id)
    media = listings.MediaFile(
        filename=households.FILE,
        hash=listings.form_hash(_households_file()),
        download_url=url_for(
            "openrosa.media", form_id=form_id, filename=households.FILE, _external=True
        ),
    )
    return _xml(listings.manifest([media]))


@bp.get("/forms/<form_id>/media/<filename>")
def media(form_id: str, filename: str):
    """A media file the manifest lists (only ``households.csv``)."""
    _known_form(form_id)
    if filename != households.FILE:
        raise ApiError(404, f"No file '{filename}' for this form.")
    return Response(_households_file(), content_type="text/csv; charset=utf-8")


# --- submissions ----------------------------------------------------------------------------


@bp.route("/submission", methods=["HEAD", "POST"])
def submission():
    """HEAD: what Collect asks before it sends. POST: one filled form, stored exactly once."""
    if request.method == "HEAD":
        return Response(status=204, headers={"X-OpenRosa-Accept-Content-Length": str(MAX_BYTES)})
    try:
        instance = instances.parse_instance(_xml_part())
    except instances.InstanceError as exc:
        raise ApiError(400, REFUSED, errors={exc.field: [exc.message]}) from exc
    return _store(instance)


def _xml_part() -> bytes:
    if request.mimetype != "multipart/form-data":
        raise ApiError(
            400,
            REFUSED,
            errors={"Content-Type": ["Send the submission as multipart/form-data."]},
        )
    part = request.files.get(XML_PART)
    if part is not None:
        return part.read(MAX_BYTES + 1)
    text = request.form.get(XML_PART)  # sent as a plain field rather than a file: still XML
    if text is not None:
        return text.encode("utf-8", "surrogatepass")
    raise ApiError(400, REFUSED, errors={XML_PART: ["The multipart body has no such part."]})


@transaction
def _store(instance: instances.Instance):
    principal = g.principal
    device = state.DeviceContext(principal.device_id, principal.user_id, principal.scope)
    # An edit that moved a gift or help to another ward files its void where the replaced
    # event lies (a void already stored first, so a resend is the same).
    items = instances.push_items(instance, edits.void_place(db.session(), instance))
    outcome = pipeline.push(
        db.session(), device, items, citizen_key=current_app.config["CITIZEN_ID_KEY"]
    )
    request_log.note_push(principal.device_id, outcome.results, items)
    refused = [
        (item, result)
        for item, result in zip(items, outcome.results, strict=True)
        if result["status"] == "rejected"
    ]
    if refused:
        # Raised, so the transaction rolls back: an edit's void is never kept without the
        # event that replaces it.
        errors = _form_fields(refused)
        if all(set(result["errors"]) == {"id"} for _item, result in refused):
            raise ApiError(409, REUSED, errors=errors)
        raise ApiError(400, REFUSED, errors=errors)
    with force_locale(locale()):
        return _xml(instances.openrosa_response(_receipt(outcome.results[-1])), status=201)


REUSED = "This form was received before with different content."
# The push path's names for what is wrong, as the XForm names the same thing.
_FIELD = {"id": "meta/instanceID", "recorded_at": "end", "form_version": "version"}
_VOID_FIELD = {"target": "meta/deprecatedID", "id": "meta/instanceID"}


def _form_fields(refused: list[tuple[dict, dict]]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for item, result in refused:
        names = _VOID_FIELD if item.get("form") == "void" else {}
        for path, messages in result["errors"].items():
            name = path.removeprefix("data.")
            name = names.get(name) or _FIELD.get(name, name)
            errors.setdefault(name, []).extend(m for m in messages if m not in errors.get(name, ()))
    return errors


def _receipt(result: dict) -> str:
    status = result["status"]
    if status == "duplicate":
        text = gettext("Already received; nothing changed.")
    elif status == "conflict":
        text = gettext("Received. It clashes with another form; a ward lead will review it.")
    else:
        text = gettext("Received.")
    if "clock_suspect" in result.get("flags", ()):
        text += " " + gettext("The phone's clock is ahead of the server's; please correct it.")
    return text


def locale() -> str:
    """The volunteer's language: Accept-Language if it names one we have, else Vietnamese,
    the forms' default (ODK Collect sends no Accept-Language of its own)."""
    return request.accept_languages.best_match(localise.LANGUAGES) or "vi"


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type=XML)


# --- every answer under /openrosa/ ----------------------------------------------------------


def _openrosa_answer(response: Response) -> Response:
    """X-OpenRosa-Version on every answer under /openrosa/, and an error as the
    OpenRosaResponse Collect shows, in the volunteer's language."""
    if not request.path.startswith(PREFIX):
        return response
    response.headers[VERSION_HEADER[0]] = VERSION_HEADER[1]
    if response.mimetype == PROBLEM:
        problem = json.loads(response.get_data())
        with force_locale(locale()):
            message = _message(problem.get("detail") or "", problem.get("errors"))
        response.set_data(instances.openrosa_response(message, nature="error"))
        response.content_type = XML
        response.headers.pop("WWW-Authenticate", None)  # the key is in the path, not a header
    return response


def _message(detail: str, errors: dict | None) -> str:
    parts = [localise.translate(detail)] if detail else []
    for field, messages in (errors or {}).items():
        parts.append(f"{field}: {' '.join(localise.translate(m) for m in messages)}")
    return " ".join(parts)


def refuse(start_response, status: int, detail: str) -> list[bytes]:
    """A refusal before the app ran (a body too large or unreadable), as an OpenRosaResponse."""
    body = instances.openrosa_response(detail, nature="error")
    headers = [("Content-Type", XML), VERSION_HEADER]
    return transport.refuse_with(start_response, status, body, headers)


# --- settings for ODK Collect ---------------------------------------------------------------


def server_url(key: str) -> str:
    """``<server>/openrosa/key/<key>``: what Collect is given as its server."""
    return url_for("openrosa.form_list", key=key, _external=True).removesuffix("/formList")


def collect_settings(url: str, project: str) -> str:
    """ODK Collect's settings for this device, as its QR code carries them: the JSON,
    zlib-compressed, base64-encoded. Forms kept exactly as the server lists them, and sent
    by themselves on any network."""
    settings = {
        "general": {
            "server_url": url,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": project},
    }
    raw = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(_openrosa_answer)
    app.extensions["wardsync.body_limits"].append(transport.PathLimit(PREFIX, MAX_BYTES, refuse))
