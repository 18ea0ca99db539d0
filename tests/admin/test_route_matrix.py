"""Every route of ``app.url_map`` × every kind of caller, in and out of scope, with data in
three wards: a success carries exactly the caller's data; a refusal has the right status and
writes nothing. A route without an entry in MATRIX fails ``test_every_route_has_an_entry``."""

from __future__ import annotations

import io
import uuid

import pytest
from matrix_kit import CALLERS, ROLE, build, citizen, refresh_token, set_passwords
from matrix_routes import (
    Route,
    _works,
    allow,
    check_children,
    check_code,
    check_collect_submission,
    check_corrected,
    check_devices,
    check_export_rows,
    check_follow_ups,
    check_form_list,
    check_households_file,
    check_key,
    check_key_revoked,
    check_openrosa_device,
    check_page_code,
    check_page_devices,
    check_page_follow_ups,
    check_page_openrosa_device,
    check_page_queue,
    check_page_resolved,
    check_page_revoked,
    check_page_unit,
    check_page_volunteers,
    check_progress,
    check_progress_rows,
    check_pull,
    check_push,
    check_queue,
    check_resolved,
    check_revoked,
    check_xform,
    collect,
    collect_may,
    pages,
    public,
)

from sync.accounts import devices

PASSWORD = "matrix password 123"
READERS = ("admin", "hq", "lead", "key")
USERS = ("admin", "hq", "lead", "volunteer")
W = ("W1", "W3")  # a ward each caller with a ward has in scope, and one some have not


def _q(**more):
    return {"query_string": {"campaign": "camp", **more}}


def _gift_item(e, v):
    return e.wards[v].items["suspected_double"]


def _login_as(e, caller, v):
    if ROLE[caller] in USERS:
        return {"json": {"username": caller, "password": PASSWORD}}
    return {"json": {"username": "admin", "password": "not the password"}}


def _push(e, caller, v):
    return {
        "json": {
            "submissions": [
                {
                    "id": str(uuid.uuid4()),
                    "form": "activation",
                    "form_version": 1,
                    "campaign": "camp",
                    "org_unit": v,
                    "recorded_at": "2023-07-30T10:00:00+07:00",
                    "data": {"citizen_id": citizen(v, 7), "status": "visited"},
                }
            ]
        }
    }


def _new_code(e, caller, v):
    if v == "used":
        return {"json": {"code": "not-a-code-anyone-has", "name": "phone"}}
    with e.engine.connect() as conn:
        from sqlalchemy.orm import Session

        from sync.models import User

        with Session(conn) as session:
            admin = session.query(User).filter_by(username="admin").one()
            code, _ = devices.create_code(session, admin, "vol-w1", ["W1"])
            session.commit()
    return {"json": {"code": code, "name": "phone"}}


def _enrolled(e, response, caller, v):
    assert _works(e, response.get_json()["access_token"], "/api/v1/sync/pull")


def _refreshed(e, response, caller, v):
    path = "/api/v1/sync/pull" if caller == "phone-w1" else "/api/v1/campaigns"
    assert _works(e, response.get_json()["access_token"], path)


def _logged_in(e, response, caller, v):
    assert _works(e, response.get_json()["access_token"])


def _logins(caller, v):
    return (200, True) if ROLE[caller] in USERS else (401, False)


def _page_logins(caller, v):
    return (302, True) if ROLE[caller] in ("admin", "hq", "lead") else (401, False)


def _page_logged_out(e, response, caller, v):
    assert response.headers["Location"].endswith("/login")


def _collect_submission(e, caller, v):
    """A gift as ODK Collect sends it: multipart, the instance as xml_submission_file."""
    e.collect_sent = sid = str(uuid.uuid4())
    xml = (
        f'<data id="gift" version="1"><campaign>camp</campaign><org_unit>{v}</org_unit>'
        f"<household_id>{uuid.uuid5(uuid.NAMESPACE_URL, v)}</household_id>"
        "<gift_kind>sugar</gift_kind><round>2023-tet</round>"
        "<start>2023-07-30T10:00:00.000+07:00</start><end>2023-07-30T10:05:00.000+07:00</end>"
        f"<meta><instanceID>uuid:{sid}</instanceID></meta></data>"
    ).encode()
    return {
        "path": collect(e, caller, "/submission"),
        "data": {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")},
        "content_type": "multipart/form-data",
    }


def check_receipt(e, response, caller, v):
    """The phone's own receipt: its id, and every form it sent counted as stored."""
    body = response.get_json()
    sent = sum(len(ids) for ids in e.wards["W1"].submissions.values())
    assert body["device_id"] == e.wards["W1"].device_id
    assert body["accepted"] == sent and body["org_units"] == ["W1"]


MATRIX: dict[tuple[str, str], Route] = {
    ("GET", "/healthz"): Route(public, check=lambda e, r, c, v: r.get_json() == {"status": "ok"}),
    ("GET", "/readyz"): Route(public, check=lambda e, r, c, v: r.get_json()["status"] == "ready"),
    # The operator's metrics exist only with WARDSYNC_METRICS_TOKEN set (not here): no caller's
    # token opens them (tests/hardening/test_metrics.py: with a token set).
    ("GET", "/metrics"): Route(lambda caller, variant: (404, False)),
    ("GET", "/api/v1/openapi.json"): Route(
        public, check=lambda e, r, c, v: "/api/v1/sync/push" in r.get_json()["paths"]
    ),
    ("GET", "/api/v1/docs"): Route(
        public, check=lambda e, r, c, v: b"/api/v1/docs/assets/swagger-ui-bundle.js" in r.data
    ),
    ("GET", "/api/v1/docs/assets/<name>"): Route(
        public,
        call=lambda e, c, v: {"path": "/api/v1/docs/assets/swagger-ui.css"},
        check=lambda e, r, c, v: r.content_type.startswith("text/css") and r.data,
    ),
    ("GET", "/static/web/<path:filename>"): Route(
        public,
        call=lambda e, c, v: {"path": "/static/web/style.css"},
        check=lambda e, r, c, v: r.content_type.startswith("text/css") and r.data,
    ),
    ("GET", "/static/<path:filename>"): Route(  # Flask's own: the app has no static folder
        lambda c, v: (404, False), call=lambda e, c, v: {"path": "/static/style.css"}
    ),
    # -- auth ---------------------------------------------------------------------------
    ("POST", "/api/v1/auth/login"): Route(
        _logins, call=_login_as, check=_logged_in, writes=True, refusal_writes=True
    ),
    ("POST", "/api/v1/auth/refresh"): Route(
        lambda c, v: (200, True) if ROLE[c] in (*USERS, "device") else (401, False),
        call=lambda e, c, v: {
            "json": {"refresh_token": refresh_token(e, c) if ROLE[c] in (*USERS, "device") else "x"}
        },
        check=_refreshed,
        writes=True,
    ),
    ("POST", "/api/v1/devices/enroll"): Route(
        lambda c, v: (201, True) if v == "fresh" else (401, False),
        call=_new_code,
        check=_enrolled,
        variants=("fresh", "used"),
        writes=True,
        refusal_writes=True,  # a failed enrolment is counted against the phone's address
    ),
    # -- administration -------------------------------------------------------------------
    ("POST", "/api/v1/org-units"): Route(
        allow("admin", ok=201),
        call=lambda e, c, v: {"json": {"code": f"N{v}", "name": "New", "parent": v}},
        check=lambda e, r, c, v: r.get_json()["parent"] == v,
        variants=("C1", "C2"),
        writes=True,
    ),
    ("GET", "/api/v1/org-units"): Route(
        allow(*USERS, scoped="overlap", out=404),
        call=lambda e, c, v: {"query_string": {"parent": v} if v else {}},
        check=check_children,
        variants=(None, "C1", "C2"),
    ),
    ("POST", "/api/v1/campaigns"): Route(
        allow("admin", ok=201),
        call=lambda e, c, v: {
            "json": {
                "code": "c2",
                "name": "Two",
                "starts_on": "2024-01-01",
                "ends_on": "2024-02-01",
            }
        },
        check=lambda e, r, c, v: r.get_json()["timezone"] == "Asia/Ho_Chi_Minh",
        writes=True,
    ),
    ("GET", "/api/v1/campaigns"): Route(
        allow(*USERS),
        check=lambda e, r, c, v: [i["code"] for i in r.get_json()["items"]] == ["camp"],
    ),
    ("PUT", "/api/v1/campaigns/<code>/targets"): Route(
        allow("admin"),
        call=lambda e, c, v: {
            "path": "/api/v1/campaigns/camp/targets",
            "json": [{"org_unit": v, "metric": "accounts_activated", "value": 40}],
        },
        check=lambda e, r, c, v: (
            {"org_unit": v, "metric": "accounts_activated", "value": 40} in r.get_json()["targets"]
        ),
        variants=W,
        writes=True,
    ),
    ("POST", "/api/v1/users"): Route(
        allow("admin", "lead", ok=201, scoped=True),
        call=lambda e, c, v: {
            "json": {"username": f"new-{v}", "role": "volunteer", "org_units": [v]}
        },
        check=lambda e, r, c, v: r.get_json()["org_units"] == [v],
        variants=W,
        writes=True,
    ),
    ("POST", "/api/v1/enrollment-codes"): Route(
        allow("admin", "lead", ok=201, scoped=True),
        call=lambda e, c, v: {"json": {"volunteer": f"vol-{v.lower()}", "org_units": [v]}},
        check=check_code,
        variants=W,
        writes=True,
    ),
    ("GET", "/api/v1/devices"): Route(allow("admin", "lead"), check=check_devices),
    ("DELETE", "/api/v1/devices/<device_id>"): Route(
        allow("admin", "lead", ok=204, scoped=True, out=404),
        call=lambda e, c, v: {"path": f"/api/v1/devices/{e.wards[v].device_id}"},
        check=check_revoked,
        variants=W,
        writes=True,
    ),
    ("POST", "/api/v1/api-keys"): Route(
        allow("admin", ok=201),
        call=lambda e, c, v: {"json": {"name": "k", "scope": "export", "org_units": [v]}},
        check=check_key,
        variants=W,
        writes=True,
    ),
    ("DELETE", "/api/v1/api-keys/<int(max=2147483647):key_id>"): Route(
        allow("admin", ok=204),
        call=lambda e, c, v: {"path": f"/api/v1/api-keys/{e.keys['key-w3'][0]}"},
        check=check_key_revoked,
        writes=True,
    ),
    # -- phones ---------------------------------------------------------------------------
    ("GET", "/api/v1/forms"): Route(
        public,
        check=lambda e, r, c, v: (
            {f["form"] for f in r.get_json()["forms"]}
            == {"activation", "household_help", "gift", "void"}
        ),
    ),
    ("GET", "/api/v1/devices/me"): Route(allow("device"), check=check_receipt),
    ("GET", "/app/"): Route(public, check=lambda e, r, c, v: b"<html" in r.data.lower()),
    ("GET", "/app/<path:name>"): Route(
        public,
        call=lambda e, c, v: {"path": "/app/manifest.webmanifest"},
        check=lambda e, r, c, v: r.get_json(force=True)["start_url"] == "./",
    ),
    ("POST", "/api/v1/sync/push"): Route(
        allow("device"), call=_push, check=check_push, variants=W, writes=True
    ),
    ("GET", "/api/v1/sync/pull"): Route(allow("device"), check=check_pull),
    # -- ODK Collect and Enketo (OpenRosa) ------------------------------------------------------
    ("POST", "/api/v1/devices/openrosa"): Route(
        allow("admin", "lead", ok=201, scoped=True),
        call=lambda e, c, v: {
            "json": {"volunteer": f"vol-{v.lower()}", "org_units": [v], "name": "Collect"}
        },
        check=check_openrosa_device,
        variants=W,
        writes=True,
    ),
    ("GET", "/openrosa/key/<key>/formList"): Route(
        collect_may(),
        call=lambda e, c, v: {"path": collect(e, c, "/formList")},
        check=check_form_list,
        openrosa=True,
    ),
    ("GET", "/openrosa/key/<key>/forms/<form_id>"): Route(
        collect_may(),
        call=lambda e, c, v: {"path": collect(e, c, "/forms/gift")},
        check=check_xform,
        openrosa=True,
    ),
    ("GET", "/openrosa/key/<key>/forms/<form_id>/manifest"): Route(
        collect_may(),
        call=lambda e, c, v: {"path": collect(e, c, "/forms/gift/manifest")},
        check=lambda e, r, c, v: b"<filename>households.csv</filename>" in r.data,
        openrosa=True,
    ),
    ("GET", "/openrosa/key/<key>/forms/<form_id>/media/<filename>"): Route(
        collect_may(),
        call=lambda e, c, v: {"path": collect(e, c, "/forms/gift/media/households.csv")},
        check=check_households_file,
        openrosa=True,
    ),
    ("POST", "/openrosa/key/<key>/submission"): Route(
        collect_may(ok=201),  # W3: outside the device's ward, refused naming org_unit
        call=_collect_submission,
        check=check_collect_submission,
        variants=W,
        writes=True,
        openrosa=True,
    ),
    # -- progress, review, exports ----------------------------------------------------------
    ("GET", "/api/v1/progress"): Route(
        allow("admin", "hq", "lead", scoped=True),
        call=lambda e, c, v: _q(org_unit=v),
        check=check_progress,
        variants=(*W, "C1"),
    ),
    ("GET", "/api/v1/conflicts"): Route(
        allow("admin", "lead", scoped=True, out=404),
        call=lambda e, c, v: _q(**({"org_unit": v} if v else {})),
        check=check_queue,
        variants=(None, *W),
    ),
    ("POST", "/api/v1/conflicts/<int(max=2147483647):item_id>/resolve"): Route(
        allow("admin", "lead", scoped=True, out=404),
        call=lambda e, c, v: {
            "path": f"/api/v1/conflicts/{_gift_item(e, v)}/resolve",
            "json": {"confirm": True},
        },
        check=check_resolved,
        variants=W,
        writes=True,
    ),
    ("POST", "/api/v1/records/<int(max=2147483647):record_id>/correct"): Route(
        allow("admin", "lead", scoped=True, out=404),
        call=lambda e, c, v: {
            "path": f"/api/v1/records/{e.wards[v].records[0]}/correct",
            "json": {"values": {"status": "installed"}, "reason": "đã cài"},
        },
        check=check_corrected,
        variants=W,
        writes=True,
    ),
    ("GET", "/api/v1/exports/submissions"): Route(
        allow(*READERS, scoped=True),
        call=lambda e, c, v: _q(form="gift", **({"org_unit": v} if v else {})),
        check=check_export_rows,
        variants=(None, *W),
    ),
    ("GET", "/api/v1/exports/progress"): Route(
        allow(*READERS, scoped=True),
        call=lambda e, c, v: _q(org_unit=v),
        check=check_progress_rows,
        variants=(*W, "C1"),
    ),
    ("GET", "/api/v1/exports/follow-ups"): Route(
        allow(*READERS, scoped=True),
        call=lambda e, c, v: _q(org_unit=v),
        check=check_follow_ups,
        variants=(*W, "C1"),
    ),
    # -- the lead's pages -------------------------------------------------------------------
    ("GET", "/login"): Route(public, page=True, check=lambda e, r, c, v: b"csrf_token" in r.data),
    ("POST", "/login"): Route(
        _page_logins,
        call=lambda e, c, v: {"form": _login_as(e, c, v)["json"], "anonymous": True},
        check=lambda e, r, c, v: r.headers["Location"] == "/",
        page=True,
        writes=True,
        refusal_writes=True,
    ),
    ("POST", "/logout"): Route(
        lambda c, v: (302, ROLE[c] in USERS),
        check=_page_logged_out,
        page=True,
        writes=True,
    ),
    ("GET", "/"): Route(
        pages("admin", "hq", "lead", scoped=True),
        call=lambda e, c, v: {"query_string": {"unit": v}},
        check=check_page_unit,
        variants=W,
        page=True,
    ),
    ("GET", "/volunteers"): Route(
        pages("admin", "hq", "lead", scoped=True),
        call=lambda e, c, v: {"query_string": {"unit": v}},
        check=check_page_volunteers,
        variants=W,
        page=True,
    ),
    ("GET", "/review"): Route(pages("admin", "lead"), check=check_page_queue, page=True),
    ("POST", "/review/<int:item_id>"): Route(
        pages("admin", "lead", ok=302, scoped=True, out=302),
        call=lambda e, c, v: {"path": f"/review/{_gift_item(e, v)}", "form": {"confirm": "yes"}},
        check=check_page_resolved,
        variants=W,
        page=True,
        writes=True,
    ),
    ("GET", "/follow-ups"): Route(
        pages("admin", "hq", "lead", scoped=True),
        call=lambda e, c, v: {"query_string": {"unit": v}},
        check=check_page_follow_ups,
        variants=W,
        page=True,
    ),
    ("GET", "/devices"): Route(pages("admin", "lead"), check=check_page_devices, page=True),
    ("POST", "/devices/<device_id>/revoke"): Route(
        pages("admin", "lead", ok=302, scoped=True, out=302),
        call=lambda e, c, v: {"path": f"/devices/{e.wards[v].device_id}/revoke"},
        check=check_page_revoked,
        variants=W,
        page=True,
        writes=True,
    ),
    ("POST", "/devices/openrosa"): Route(
        pages("admin", "lead", scoped=True, out=302),
        call=lambda e, c, v: {
            "form": {"volunteer": f"vol-{v.lower()}", "org_units": v, "name": "Collect"}
        },
        check=check_page_openrosa_device,
        variants=W,
        page=True,
        writes=True,
    ),
    ("POST", "/devices/codes"): Route(
        pages("admin", "lead", scoped=True, out=302),
        call=lambda e, c, v: {"form": {"volunteer": f"vol-{v.lower()}", "org_units": v}},
        check=check_page_code,
        variants=W,
        page=True,
        writes=True,
    ),
}


def _succeeds(route: Route, caller: str) -> bool:
    return any(route.may(caller, v)[1] for v in route.variants)


# A write test per caller that may succeed (each starts from the same estate), and one for
# all the callers that are refused (refusals write nothing, which each call checks).
WRITE_CASES = [
    pytest.param(
        key,
        callers,
        id=f"{key[0]} {key[1]} as {callers[0] if len(callers) == 1 else 'the refused'}",
    )
    for key, route in MATRIX.items()
    if route.writes
    for callers in [
        *((c,) for c in CALLERS if _succeeds(route, c)),
        tuple(c for c in CALLERS if not _succeeds(route, c)),
    ]
    if callers
]
READ_CASES = [
    pytest.param(key, id=f"{key[0]} {key[1]}") for key, route in MATRIX.items() if not route.writes
]


def test_every_route_has_an_entry(app):
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes - set(MATRIX) == set(), "routes without an entry in the matrix"
    assert set(MATRIX) - routes == set(), "entries for routes that do not exist"


@pytest.fixture
def estate(app, client, world, session, engine):
    return build(app, client, world, session, engine)


def _ask(estate, route: Route, key, caller, variant):
    method, rule = key
    request = dict(route.call(estate, caller, variant)) if route.call else {}
    path = request.pop("path", rule)
    if request.pop("anonymous", False):
        caller = "anonymous"
    if route.page:
        return estate.page(caller, method, path, form=request.pop("form", None), **request)
    return lambda: estate.api(caller, method, path, **request)


def _one(estate, key, caller, variant) -> None:
    route = MATRIX[key]
    status, succeeds = route.may(caller, variant)
    send = _ask(estate, route, key, caller, variant)
    before = estate.snapshot() if route.writes and not succeeds else None
    response = send()
    where = (key, caller, variant)
    assert response.status_code == status, (where, response.get_data(as_text=True)[:300])
    if route.openrosa:  # ODK Collect shows an OpenRosaResponse's message, errors included
        assert response.headers["X-OpenRosa-Version"] == "1.0", where
        if status >= 400:
            assert response.content_type == "text/xml; charset=utf-8", where
            assert b"<OpenRosaResponse" in response.data, where
    elif not route.page and status >= 400:
        assert response.content_type == "application/problem+json", where
    if succeeds and route.check:
        assert route.check(estate, response, caller, variant) is not False, where
    if before is not None and not route.refusal_writes:
        assert estate.snapshot() == before, ("a refused call wrote", where)


@pytest.mark.parametrize("key", READ_CASES)
def test_reads(estate, key):
    for caller in CALLERS:
        for variant in MATRIX[key].variants:
            _one(estate, key, caller, variant)


@pytest.mark.parametrize(("key", "callers"), WRITE_CASES)
def test_writes(estate, key, callers):
    route = MATRIX[key]
    if key[1].endswith("/login"):
        set_passwords(estate, PASSWORD)
    for caller in callers:
        # Refusals first, so each success is the first change to what it touches.
        for variant in sorted(route.variants, key=lambda v: route.may(caller, v)[1]):
            _one(estate, key, caller, variant)
