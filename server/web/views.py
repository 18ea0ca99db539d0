"""Pages: log in, progress with drill-down and trend, review queue, follow-ups, devices."""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from sync.accounts import devices, openrosa_devices, users
from sync.accounts.scope import Scope
from sync.admin import campaigns, orgunits
from sync.errors import DomainError, Invalid
from sync.forms.fields import Name
from sync.models import ActivationRecord, Campaign, OrgUnit, TokenFamily, User
from sync.progress.metrics import METRICS
from sync.rules.activations import status_of, visible_fields

from .. import db, throttle
from ..api.devices import openrosa_device_answer
from ..auth import refresh
from ..errors import ApiError
from ..transaction import transaction
from .qr import qr_svg

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)
PAGE_ROLES = ("admin", "hq", "lead")


@bp.before_app_request
def _load_user() -> None:
    g.web_user = None
    family_id, user_id = session.get("fam"), session.get("uid")
    if not family_id or not user_id:
        return
    row = (
        db.session()
        .execute(
            select(User, TokenFamily.revoked_at)
            .join(TokenFamily, TokenFamily.user_id == User.id)
            .where(User.id == user_id, TokenFamily.id == family_id)
        )
        .first()
    )
    # End the read at once: on SQLite a POST's session holds the write lock from its first
    # statement, and the login limit writes in a session of its own.
    db.session().commit()
    if row is None or row.revoked_at is not None or not row.User.is_active:
        session.clear()
        return
    g.web_user = row.User
    g.web_scope = Scope.of_user(row.User)
    g.web_family = family_id


@bp.before_request
def _check_csrf() -> None:
    if request.method == "POST":
        CSRFProtect().protect()


@bp.errorhandler(CSRFError)
def _csrf_failed(exc):
    return render_template("message.html", title=_("Form expired"), text=exc.description), 400


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
def _refused_page(exc: HTTPException):
    """A page refused says so on a page, in the page's language."""
    text = {
        400: _("The address asks for something this page does not offer."),
        403: _("Your role may not open this page."),
        404: _("There is nothing here, or it lies outside your units."),
    }[exc.code]
    if exc.description and exc.description != type(exc).description:
        text = exc.description  # said by the view itself, translated there
    return render_template("message.html", title=str(exc.code), text=text), exc.code


def page(*roles: str) -> Callable:
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.web_user is None:
                return redirect(url_for("web.login", next=request.full_path))
            if g.web_user.role not in (roles or PAGE_ROLES):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


@bp.app_context_processor
def _globals() -> dict:
    return {"user": g.get("web_user"), "metrics": METRICS, "lang_url": _lang_url}


def _lang_url(lang: str) -> str:
    """This page in the other language: the same address, only ``lang`` changed."""
    args = request.args.to_dict() if request.method == "GET" else {}
    return request.path + "?" + urlencode(args | {"lang": lang})


# --- log in / out ---------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@transaction
def login():
    if request.method == "GET":
        return render_template("login.html", error=None)
    try:
        # The same limit as the API's login: one count per username, however it is spelled.
        user = throttle.login(request.form.get("username", ""), request.form.get("password", ""))
    except ApiError as exc:
        wait = int(exc.headers["Retry-After"])
        text = _(
            "Too many failed logins; try again in %(minutes)s minutes.", minutes=-(-wait // 60)
        )
        return render_template("login.html", error=text), 429, {"Retry-After": str(wait)}
    if user is None or user.role not in PAGE_ROLES:
        return render_template("login.html", error=_("Unknown username or wrong password.")), 401
    rotation = refresh.start_family(db.session(), user.id, current_app.config["REFRESH_TOKEN_TTL"])
    lang = session.get("lang")
    session.clear()
    session["uid"], session["fam"] = user.id, rotation.family_id
    if lang:
        session["lang"] = lang
    target = request.args.get("next") or ""
    return redirect(
        target
        if target.startswith("/") and not target.startswith("//")
        else url_for("web.overview")
    )


@bp.post("/logout")
@transaction
def logout():
    if session.get("fam"):
        users.revoke_family(db.session(), session["fam"], "logout")
    session.clear()
    return redirect(url_for("web.login"))


# --- progress -----------------------------------------------------------------------------


def _campaign() -> Campaign:
    code = request.args.get("campaign")
    campaign = campaigns.get(db.session(), code) if code else None
    if campaign is None:
        campaign = db.session().scalar(
            select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.code)
        )
    if campaign is None:
        abort(404)
    return campaign


def roots() -> list[OrgUnit]:
    """Where the user's tree starts: the roots of the org-unit tree for admin and hq (any
    number of them), a lead's own units (less any inside another of theirs)."""
    found = orgunits.children(db.session(), None, g.web_scope)
    return [u for u in found if not any(o is not u and u.path.startswith(o.path) for o in found)]


def _unit() -> OrgUnit:
    """The unit asked for (404 outside the scope, as if it did not exist), else the first
    root."""
    scope: Scope = g.web_scope
    code = request.args.get("unit")
    if code:
        unit = orgunits.get(db.session(), code)
        if unit is None or not scope.covers(unit):
            abort(404)
        return unit
    tops = roots()
    if not tops:
        abort(404)
    return tops[0]


def _refused(exc: DomainError, endpoint: str, **values):
    """A page's refusal: said on the page it came from, with nothing of the attempt kept."""
    _flash_error(exc)
    return redirect(url_for(endpoint, **values))


def _flash_error(exc: DomainError) -> None:
    """The error with the fields at fault, as the API names them."""
    if exc.errors:
        for path, messages in exc.errors.items():
            flash(f"{path}: {' '.join(messages)}", "error")
    else:
        flash(exc.detail, "error")


# --- follow-ups ---------------------------------------------------------------------------


@bp.get("/follow-ups")
@page()
def follow_ups():
    campaign, unit = _campaign(), _unit()
    rows = db.session().execute(
        select(ActivationRecord, OrgUnit.code, OrgUnit.name)
        .join(OrgUnit, OrgUnit.id == ActivationRecord.org_unit_id)
        .where(
            ActivationRecord.campaign_id == campaign.id,
            OrgUnit.path.startswith(unit.path, autoescape=True),
        )
        .order_by(OrgUnit.code, ActivationRecord.id)
    )
    people = [
        {
            "record": r,
            "ward": name,
            "fields": visible_fields(r.state),
            "first_day": r.state["first"].get("no_smartphone", r.state["origin"])[2],
        }
        for r, _code, name in rows
        if status_of(r.state) == "no_smartphone"
    ]
    return render_template("followups.html", campaign=campaign, unit=unit, people=people)


# --- devices ------------------------------------------------------------------------------


@bp.get("/devices")
@page("admin", "lead")
def device_list():
    return _devices_page()


def _devices_page(code: dict | None = None, collect: dict | None = None):
    session_ = db.session()
    scope: Scope = g.web_scope
    listed = devices.list_in_scope(session_, scope)
    owners = {u.id: u.username for u in session_.scalars(select(User))}
    volunteers = [
        u
        for u in session_.scalars(
            select(User).where(User.role == "volunteer").order_by(User.username)
        )
        if scope.contains(Scope.of_units(u.org_units))
    ]
    units = [
        u for u in session_.scalars(select(OrgUnit).where(scope.filter()).order_by(OrgUnit.path))
    ]
    return render_template(
        "devices.html",
        devices=listed,
        owners=owners,
        volunteers=volunteers,
        units=units,
        code=code,
        link=_enrol_link(code["code"]) if code else None,
        qr=qr_svg(_enrol_link(code["code"])) if code else None,
        collect=collect,
        collect_qr=qr_svg(collect["collect_settings"]) if collect else None,
    )


def _enrol_link(code: str) -> str:
    """What the QR code holds: the phone app with the code filled in, so a phone's camera
    opens the app ready to enrol. Behind the fragment, the code never reaches a server log."""
    return url_for("phone_app.index", _external=True) + "#enroll=" + code


@bp.post("/devices/<device_id>/revoke")
@page("admin", "lead")
@transaction(refused=lambda exc: _refused(exc, "web.device_list"))
def revoke_device(device_id: str):
    devices.revoke(db.session(), g.web_user, device_id)
    flash(_("Device revoked: it can no longer sync."), "ok")
    return redirect(url_for("web.device_list"))


@bp.post("/devices/codes")
@page("admin", "lead")
@transaction(refused=lambda exc: _refused(exc, "web.device_list"))
def create_code():
    units = request.form.getlist("org_units")
    if not units:
        raise Invalid.field("org_units", "Choose at least one org unit.")
    code, expires_at = devices.create_code(
        db.session(), g.web_user, request.form.get("volunteer", ""), units
    )
    # Shown once, in this response only: the code is a credential.
    return _devices_page({"code": code, "expires_at": expires_at})


@bp.post("/devices/openrosa")
@page("admin", "lead")
@transaction(refused=lambda exc: _refused(exc, "web.device_list"))
def create_openrosa_device():
    units = request.form.getlist("org_units")
    if not units:
        raise Invalid.field("org_units", "Choose at least one org unit.")
    try:  # the API's own rule for a device's name
        name = Name(required=True).deserialize(request.form.get("name", ""))
    except ValidationError as exc:
        raise Invalid.field("name", " ".join(exc.messages)) from exc
    device, key = openrosa_devices.create(
        db.session(), g.web_user, request.form.get("volunteer", ""), units, name
    )
    # Shown once, in this response only: the server URL holds the device's key.
    return _devices_page(collect=openrosa_device_answer(device.id, key, name))
