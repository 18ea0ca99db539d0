"""Bad input on the routes test_bad_input.py does not reach: the review actions, API keys,
every query parameter and path parameter, and the lead's web forms. Always a clear answer
naming the field (problem+json on the API, an error shown on the pages), never a 500, and
nothing written. ``test_every_route_with_input_is_covered`` keeps the list whole."""

from __future__ import annotations

import re

import pytest
from matrix_kit import build
from test_bad_input import ENDPOINTS as BODY_ENDPOINTS

BODIES = {  # name: (method, path with {ward placeholders}, caller)
    "resolve": ("POST", "/api/v1/conflicts/{double}/resolve", "admin"),
    "correct": ("POST", "/api/v1/records/{record}/correct", "admin"),
    "api key": ("POST", "/api/v1/api-keys", "admin"),
}
BODY_CASES = [
    ("resolve", {}, ["_schema"]),
    ("resolve", {"confirm": "yes"}, ["confirm"]),
    ("resolve", {"confirm": 1}, ["confirm"]),
    ("resolve", {"confirm": True, "values": {"status": "activated"}}, ["_schema"]),
    ("resolve", {"confirm": True, "extra": 1}, ["extra"]),
    ("resolve", {"confirm": True, "reason": "x" * 501}, ["reason"]),
    ("resolve", {"values": {"status": "activated"}}, ["confirm"]),  # a double takes confirm
    ("correct", {}, ["values", "reason"]),
    ("correct", {"values": {"status": "activated"}}, ["reason"]),
    ("correct", {"values": {}, "reason": "r"}, ["values"]),
    ("correct", {"values": {"status": "king"}, "reason": "r"}, ["values.status"]),
    ("correct", {"values": {"citizen_id": "079100000011"}, "reason": "r"}, ["values.citizen_id"]),
    ("correct", {"values": {"household_id": "nope"}, "reason": "r"}, ["values.household_id"]),
    ("correct", {"values": {"note": "a\x00b"}, "reason": "r"}, ["values.note"]),
    ("correct", {"values": {"status": "visited"}, "reason": ""}, ["reason"]),
    ("api key", {}, ["name", "scope"]),
    ("api key", {"name": "k", "scope": "import"}, ["scope"]),
    ("api key", {"name": "k", "scope": "export", "org_units": "W1"}, ["org_units"]),
    ("api key", {"name": "k", "scope": "export", "org_units": ["W 1"]}, ["org_units.0"]),
    ("api key", {"name": "k", "scope": "export", "org_units": ["NOPE"]}, ["org_units.0"]),
    ("api key", {"name": "k" * 101, "scope": "export"}, ["name"]),
    ("api key", {"name": "k", "scope": "export", "admin": True}, ["admin"]),
]
QUERY_CASES = [
    # (path, caller, query, status, field)
    ("/api/v1/progress", "admin", {}, 422, "campaign"),
    ("/api/v1/progress", "admin", {"campaign": "camp"}, 422, "org_unit"),
    ("/api/v1/progress", "admin", {"campaign": "camp", "org_unit": "W 1"}, 422, "org_unit"),
    (
        "/api/v1/progress",
        "admin",
        {"campaign": "camp", "org_unit": "W1", "daily": "x"},
        422,
        "daily",
    ),
    ("/api/v1/progress", "admin", {"campaign": "nope", "org_unit": "W1"}, 404, None),
    ("/api/v1/progress", "admin", {"campaign": "camp", "org_unit": "NOPE"}, 404, None),
    ("/api/v1/conflicts", "admin", {}, 422, "campaign"),
    ("/api/v1/conflicts", "admin", {"campaign": "camp", "status": "closed"}, 422, "status"),
    ("/api/v1/conflicts", "admin", {"campaign": "camp", "org_unit": "NOPE"}, 404, None),
    ("/api/v1/exports/submissions", "hq", {"campaign": "camp"}, 422, "form"),
    ("/api/v1/exports/submissions", "hq", {"campaign": "camp", "form": "gifts"}, 422, "form"),
    ("/api/v1/exports/submissions", "hq", {"campaign": "camp", "format": "pdf"}, 422, "format"),
    (
        "/api/v1/exports/submissions",
        "hq",
        {"campaign": "camp", "form": "gift", "after": "zz"},
        400,
        "after",
    ),
    (
        "/api/v1/exports/submissions",
        "hq",
        {"campaign": "camp", "form": "gift", "after": "a" * 201},
        422,
        "after",
    ),
    (
        "/api/v1/exports/submissions",
        "hq",
        {"campaign": "camp", "form": "gift", "org_unit": "NOPE"},
        404,
        None,
    ),
    ("/api/v1/exports/progress", "hq", {"campaign": "camp"}, 422, "org_unit"),
    (
        "/api/v1/exports/progress",
        "hq",
        {"campaign": "camp", "org_unit": "W1", "format": "ndjson"},
        422,
        "format",
    ),
    (
        "/api/v1/exports/follow-ups",
        "hq",
        {"campaign": "camp", "org_unit": "W1", "format": "ndjson"},
        422,
        "format",
    ),
    ("/api/v1/exports/follow-ups", "hq", {"org_unit": "W1"}, 422, "campaign"),
    ("/api/v1/sync/pull", "phone", {"limit": "0"}, 422, "limit"),
    ("/api/v1/sync/pull", "phone", {"limit": "1001"}, 422, "limit"),
    ("/api/v1/sync/pull", "phone", {"limit": "ten"}, 422, "limit"),
    ("/api/v1/sync/pull", "phone", {"cursor": "not-a-cursor"}, 400, "cursor"),
    ("/api/v1/org-units", "admin", {"parent": "W 1"}, 422, "parent"),
    ("/api/v1/org-units", "admin", {"parent": "NOPE"}, 404, None),
]
PATH_CASES = [
    # (method, path, caller, body): a path parameter that names nothing
    ("POST", "/api/v1/conflicts/abc/resolve", "admin", {"confirm": True}),
    ("POST", "/api/v1/conflicts/999999/resolve", "admin", {"confirm": True}),
    (
        "POST",
        "/api/v1/records/abc/correct",
        "admin",
        {"values": {"status": "visited"}, "reason": "r"},
    ),
    (
        "POST",
        "/api/v1/records/999999/correct",
        "admin",
        {"values": {"status": "visited"}, "reason": "r"},
    ),
    ("DELETE", "/api/v1/api-keys/abc", "admin", None),
    ("DELETE", "/api/v1/api-keys/999999", "admin", None),
    ("DELETE", "/api/v1/devices/no-such-device", "admin", None),
    ("GET", "/app/nope", "anonymous", None),  # only the app's own shell files are served
    ("GET", "/app/..%2Fserver%2Fconfig.py", "anonymous", None),
    ("GET", "/api/v1/docs/assets/nope", "anonymous", None),  # only Swagger UI's own files
    ("GET", "/api/v1/docs/assets/..%2F__init__.py", "anonymous", None),
    (
        "PUT",
        "/api/v1/campaigns/nope/targets",
        "admin",
        [{"org_unit": "W1", "metric": "refused", "value": 1}],
    ),
]
# Routes whose only input is covered elsewhere: test_bad_input.py (bodies), the pages below.
PAGE_FORMS = {
    "/login",
    "/review/<int:item_id>",
    "/devices/codes",
    "/devices/openrosa",
    "/devices/<device_id>/revoke",
}
# ODK Collect's routes: their input (the key, the form id, the multipart body and the XML in
# it) has its bad-input cases in tests/openrosa_server (test_submissions.py: hostile and
# broken XML and multipart, sizes; test_devices.py: keys of every wrong shape;
# test_households.py: unknown forms and files), answered as
# OpenRosaResponse XML rather than problem+json.
OPENROSA = {
    ("GET", "/openrosa/key/<key>/formList"),
    ("GET", "/openrosa/key/<key>/forms/<form_id>"),
    ("GET", "/openrosa/key/<key>/forms/<form_id>/manifest"),
    ("GET", "/openrosa/key/<key>/forms/<form_id>/media/<filename>"),
    ("POST", "/openrosa/key/<key>/submission"),
}


@pytest.fixture
def estate(app, client, world, session, engine):
    return build(app, client, world, session, engine, wards=("W1",))  # one ward will do


def _path(estate, template: str) -> str:
    return template.format(
        double=estate.wards["W1"].items["suspected_double"], record=estate.wards["W1"].records[0]
    )


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def _ask(estate, caller, method, path, **kwargs):
    if caller == "phone":
        caller = "phone-w1"
    return estate.api(caller, method, path, **kwargs)


@pytest.mark.parametrize(("name", "body", "fields"), BODY_CASES)
def test_invalid_body_is_422_naming_the_field(estate, name, body, fields):
    method, template, caller = BODIES[name]
    before = estate.snapshot()
    problem = _problem(_ask(estate, caller, method, _path(estate, template), json=body), 422)
    for field in fields:
        assert field in problem["errors"], problem
    assert estate.snapshot() == before


@pytest.mark.parametrize("name", list(BODIES))
@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ('{"confirm": ', "application/json", 400),
        ("confirm=true", "text/plain", 415),
        ("[" * 50_000 + "]" * 50_000, "application/json", 400),
        ('{"name": "' + "x" * (5 * 1024 * 1024 + 10) + '"}', "application/json", 413),
    ],
    ids=["malformed", "not json", "too deep", "too big"],
)
def test_unreadable_body(estate, name, data, content_type, status):
    method, template, caller = BODIES[name]
    before = estate.snapshot()
    response = _ask(
        estate, caller, method, _path(estate, template), data=data, content_type=content_type
    )
    _problem(response, status)
    assert estate.snapshot() == before


@pytest.mark.parametrize(("path", "caller", "query", "status", "field"), QUERY_CASES)
def test_invalid_query(estate, path, caller, query, status, field):
    problem = _problem(_ask(estate, caller, "GET", path, query_string=query), status)
    if field:
        assert field in problem["errors"], problem


@pytest.mark.parametrize(("method", "path", "caller", "body"), PATH_CASES)
def test_a_path_that_names_nothing_is_404(estate, method, path, caller, body):
    before = estate.snapshot()
    _problem(_ask(estate, caller, method, path, json=body), 404)
    assert estate.snapshot() == before


def _generic(path: str) -> str:
    path = re.sub(r"<[^>]+>|\{\w+\}", "<x>", path)
    path = re.sub(r"^/app/\.\..*$", "/app/<x>", path)
    return re.sub(r"/(abc|999999|nope|no-such-device)(?=/|$)", "/<x>", path)


def test_every_route_with_input_is_covered(app):
    """Each route that takes a body, query parameters or path parameters has bad-input cases
    here or in test_bad_input.py: a new one must be added to a list."""
    covered = {(m, _generic(p)) for m, p, _ in BODY_ENDPOINTS.values()}
    covered |= {(m, _generic(p)) for m, p, _ in BODIES.values()}
    covered |= {("GET", _generic(c[0])) for c in QUERY_CASES}
    covered |= {(c[0], _generic(c[1])) for c in PATH_CASES}
    covered |= {("POST", _generic(p)) for p in PAGE_FORMS}
    covered |= {(m, _generic(p)) for m, p in OPENROSA}
    missing = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            takes_input = (
                rule.arguments
                or method in ("POST", "PUT")
                or getattr(view, "_apidoc", {}).get("arguments")
            )
            exempt = rule.rule.startswith("/static") or rule.rule == "/logout"  # no input
            if takes_input and not exempt and (method, _generic(rule.rule)) not in covered:
                missing.add((method, rule.rule))
    assert missing == set()
