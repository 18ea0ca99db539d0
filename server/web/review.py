"""The review page: each conflict and suspected double told in plain words (what the two phones
said, which value counts now and why, what resolving does), a page at a time, by kind and
ward; and the form that resolves one."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from sync.admin import orgunits
from sync.errors import Invalid
from sync.forms.flatten import flatten
from sync.forms.schemas import STATUSES, CorrectionValues
from sync.review import decisions, queue

from .. import db
from ..transaction import transaction
from .views import _campaign, _refused, bp, page

PER_PAGE = 20
FIELD_LABELS = {
    "household_address": _l("Address"),
    "household_id": _l("Household"),
    "phone_owner": _l("Whose phone"),
    "note": _l("Note"),
}
OWNERS = {
    "self": _l("their own"),
    "family": _l("a family member's"),
    "volunteer": _l("the volunteer's"),
}


def _filters() -> dict:
    """The page's filters from the address, refused plainly when they name nothing."""
    kind = request.args.get("kind") or None
    if kind is not None and kind not in queue.KINDS:
        abort(400, _("There is no such kind of review item."))
    ward = None
    if code := request.args.get("ward"):
        ward = orgunits.get(db.session(), code)
        if ward is None or not g.web_scope.covers(ward):
            abort(404)
    number = request.args.get("page") or "1"
    if not number.isdecimal() or not 1 <= int(number) <= 1_000_000:
        abort(400, _("The page number must be a whole number from 1."))
    return {"kind": kind, "ward": ward, "page": int(number)}


def _value_text(field: str, value) -> str:
    if value is None or value == "":
        return _("(empty)")
    if field == "phone_owner" and value in OWNERS:
        return str(OWNERS[value])
    return str(value)


def _double_card(item, unit, seen: dict) -> dict:
    gifts = seen["gifts"]
    this = next((gift for gift in gifts if gift["id"] == seen["subject"]), None)
    counted = next((gift for gift in gifts if gift["standing"] == "counted"), None)
    first = gifts[0]["data"] if gifts else {}
    return {
        "gifts": [
            gift | {"this": gift["id"] == seen["subject"], "first": i == 0}
            for i, gift in enumerate(gifts)
        ],
        "this": this,
        "counted": counted,
        "gift_kind": first.get("gift_kind"),
        "round": first.get("round"),
        "household": first.get("household_address") or first.get("household_id"),
    }


def _status_card(item, unit, seen: dict) -> dict:
    record = seen["record"]
    return {
        "citizen": record.citizen_masked if record else "",
        "reports": seen["reports"],
        "ladder": seen["status"],
        "outcomes": seen["outcomes"],
        "outcome_text": ", ".join(_(o) for o in seen["outcomes"]),
    }


def _field_card(item, unit, seen: dict) -> dict:
    record = seen["record"]
    field = item.subject.rsplit(":", 1)[1]
    holder = seen["fields"].get(field) or {}
    reports = [
        {**r, "value": r["data"].get(field), "wins": r["id"] == holder.get("sid")}
        for r in seen["reports"]
        if field in r["data"]
    ]
    choices = []
    for value in [
        holder.get("v"),
        *(item.fields.get(field) or {}).values(),
        *(r["value"] for r in reports),
    ]:
        if value is not None and value not in choices:
            choices.append(value)
    return {
        "citizen": record.citizen_masked if record else "",
        "field": field,
        "field_label": FIELD_LABELS.get(field, field),
        "reports": reports,
        "current": _value_text(field, holder.get("v")),
        "by_lead": holder.get("dev") == "lead",
        "choices": [{"value": v, "text": _value_text(field, v)} for v in choices],
    }


CARDS = {
    "suspected_double": _double_card,
    "status_conflict": _status_card,
    "field_conflict": _field_card,
}


@bp.get("/review")
@page("admin", "lead")
def review_queue():
    session = db.session()
    campaign = _campaign()
    wanted = _filters()
    offset = (wanted["page"] - 1) * PER_PAGE
    rows, total = queue.page_of_items(
        session, campaign, g.web_scope, wanted["ward"], wanted["kind"], offset, PER_PAGE
    )
    pages = max(1, -(-total // PER_PAGE))
    if wanted["page"] > pages:  # the last page emptied (items resolved meanwhile): go back
        return redirect(_here(campaign, wanted, page=pages))
    seen = queue.evidence(session, [item for item, _unit in rows])
    cards = [
        {"item": item, "unit": unit, **CARDS[item.kind](item, unit, seen[item.id])}
        for item, unit in rows
    ]
    return render_template(
        "review.html",
        campaign=campaign,
        cards=cards,
        statuses=STATUSES,
        total=total,
        pages=pages,
        wanted=wanted,
        kinds=queue.KINDS,
        wards=queue.open_by_unit(session, campaign, g.web_scope),
        here=lambda **more: _here(campaign, wanted, **more),
    )


def _here(campaign, wanted: dict, **more) -> str:
    args = {
        "campaign": campaign.code,
        "kind": wanted["kind"],
        "ward": wanted["ward"].code if wanted["ward"] else None,
        "page": wanted["page"] if wanted["page"] > 1 else None,
    } | more
    return url_for("web.review_queue", **{k: v for k, v in args.items() if v is not None})


def _back() -> dict:
    """Where the queue was: the filters the card's form carried, for the redirect after."""
    args = {"campaign": request.args.get("campaign")}
    for key in ("kind", "ward", "page"):
        if request.args.get(key):
            args[key] = request.args[key]
    return args


@bp.post("/review/<int:item_id>")
@page("admin", "lead")
@transaction(refused=lambda exc: _refused(exc, "web.review_queue", **_back()))
def resolve(item_id: int):
    form = request.form
    if "confirm" in form:
        if form["confirm"] not in ("yes", "no"):
            raise Invalid.field("confirm", "Must be yes or no.")
        decisions.resolve(db.session(), g.web_user, item_id, confirm=form["confirm"] == "yes")
    else:
        decisions.resolve(
            db.session(),
            g.web_user,
            item_id,
            values=_settling_values(form),
            reason=form.get("reason") or _("Resolved on the review page"),
        )
    flash(_("Resolved."), "ok")
    return redirect(url_for("web.review_queue", **_back()))


def _settling_values(form) -> dict:
    """The one field and value a review form sends, checked as the API checks them."""
    if not form.get("field"):
        return {}
    if "value" not in form:
        raise Invalid.field("value", "Missing data for required field.")
    try:
        return CorrectionValues().load({form["field"]: form["value"]})
    except ValidationError as exc:
        errors = {f"values.{k}": v for k, v in flatten(exc.messages).items()}
        raise Invalid("The values are invalid.", errors) from exc
