"""Pages: log in, progress with drill-down and trend, review queue, follow-ups, devices."""

from __future__ import annotations

import functools
from collections.abc import Callable

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

from sync.accounts import devices, openrosa_devices, users
from sync.accounts.scope import Scope
from sync.admin import campaigns, orgunits
from sync.errors import DomainError, Invalid
from sync.forms.fields import Name
from sync.forms.flatten import flatten
from sync.forms.schemas import STATUSES, CorrectionValues
from sync.models import ActivationRecord, Campaign, OrgUnit, TokenFamily, User
from sync.progress.metrics import METRICS
from sync.progress.reads import progress
from sync.review import decisions, queue
from sync.rules.activations import status_of, visible_fields

from .. import db, throttle
from ..api.devices import openrosa_device_answer
from ..auth import refresh
from ..errors import ApiError
from ..transaction import transaction
from .charts import daily_svg
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
    return {"user": g.get("web_user"), "metrics": METRICS}


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


def _unit() -> OrgUnit:
    scope: Scope = g.web_scope
    code = request.args.get("unit")
    if code:
        unit = orgunits.get(db.session(), code)
        if unit is None or not scope.covers(unit):
            abort(404)
        return unit
    roots = orgunits.children(db.session(), None, scope)
    if not roots:
        abort(404)
    return roots[0]


@bp.get("/")
@page()
def overview():
    session_ = db.session()
    campaign, unit = _campaign(), _unit()
    body = progress(session_, campaign, unit, daily=True)
    trail = [u for u in orgunits.ancestors(session_, unit) if g.web_scope.covers(u)] + [unit]
    charts = {
        metric: daily_svg(body["daily"], metric, label)
        for metric, label in (
            ("accounts_activated", _("Accounts activated per day")),
            ("citizens_reached", _("Citizens reached per day")),
        )
    }
    return render_template(
        "overview.html",
        campaign=campaign,
        unit=unit,
        body=body,
        trail=trail,
        charts=charts,
        all_campaigns=campaigns.all_campaigns(session_),
    )


# --- review -------------------------------------------------------------------------------


@bp.get("/review")
@page("admin", "lead")
def review_queue():
    campaign = _campaign()
    items = queue.list_items(db.session(), campaign, g.web_scope, None, "open")
    return render_template("review.html", campaign=campaign, items=items, statuses=STATUSES)


@bp.post("/review/<int:item_id>")
@page("admin", "lead")
@transaction(refused=lambda exc: _refused(exc, "web.review_queue", campaign=_campaign().code))
def resolve(item_id: int):
    campaign = _campaign()
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
    return redirect(url_for("web.review_queue", campaign=campaign.code))


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
