"""The served OpenAPI document is valid and tells what the server does (issue 9's defects).

The document is read as a client generator would read it: from ``GET /api/v1/openapi.json``.
It needs no database, so these tests run once, not per database.
"""

from __future__ import annotations

import re

import pytest
from document_kit import operations, resolve, response_of
from openapi_spec_validator import validate

from server.app import create_app

PROBLEM = "application/problem+json"
PUBLIC = {("post", "/api/v1/auth/login"), ("post", "/api/v1/auth/refresh")}
PUBLIC.add(("post", "/api/v1/devices/enroll"))
PUBLIC.add(("get", "/api/v1/forms"))  # the definitions hold nothing private


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        folder = tmp_path_factory.mktemp("openapi")
        env.setenv("WARDSYNC_INSTANCE_PATH", str(folder))
        env.setenv("WARDSYNC_SECRET_KEY", "document-test-secret-key-long-enough-0123456789")
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{folder / 'unused.db'}"})
        response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return app, response.get_json()


@pytest.fixture(scope="module")
def spec(served):
    return served[1]


def schema_named(spec, name):
    return spec["components"]["schemas"][name]


def ref_name(node) -> str:
    return node["$ref"].rsplit("/", 1)[1]


def test_the_document_is_valid_openapi(spec):
    validate(spec)


def test_every_route_is_in_the_document(served, spec):
    app, _ = served
    documented = {(m, p) for m, p, _ in operations(spec)}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.split(".")[0] in (
            "api-docs",
            "api_docs",
        ):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method.lower(), path) in documented, f"{method} {path} is not documented"


def test_push_documents_its_request_body(spec):
    push = spec["paths"]["/api/v1/sync/push"]["post"]
    body = push["requestBody"]
    assert body["required"] is True
    envelope = resolve(spec, body["content"]["application/json"]["schema"])
    assert envelope["required"] == ["submissions"]
    submissions = envelope["properties"]["submissions"]
    assert submissions["maxItems"] == 1000
    variants = [resolve(spec, v) for v in submissions["items"]["oneOf"]]
    forms = {v["properties"]["form"]["enum"][0]: v for v in variants}
    assert set(forms) == {"activation", "household_help", "gift", "void"}
    for form, variant in forms.items():
        assert {"id", "form", "form_version", "campaign", "org_unit", "recorded_at", "data"} <= set(
            variant["required"]
        ), form
        assert variant["additionalProperties"] is False
    activation = resolve(spec, forms["activation"]["properties"]["data"])
    assert set(activation["required"]) == {"citizen_id", "status"}
    assert activation["properties"]["status"]["enum"][:2] == ["visited", "no_smartphone"]
    gift = resolve(spec, forms["gift"]["properties"]["data"])
    assert {"household_id", "gift_kind", "round"} == set(gift["required"])


def test_push_documents_its_answers(spec):
    push = spec["paths"]["/api/v1/sync/push"]["post"]
    assert {"200", "400", "401", "403", "413", "415", "429", "503"} <= set(push["responses"])
    ok = resolve(spec, push["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(ok["required"]) == {"results", "server_time", "server_hlc"}
    result = resolve(spec, ok["properties"]["results"]["items"])
    assert result["properties"]["status"]["enum"] == [
        "applied",
        "duplicate",
        "conflict",
        "rejected",
    ]
    assert result["properties"]["id"]["nullable"] is True
    # An invalid item is "rejected" inside the 200: the 422 is the envelope's alone.
    assert "rejected" in push["responses"]["422"]["description"]
    for status in ("429", "503"):
        headers = response_of(spec, "post", "/api/v1/sync/push", int(status))["headers"]
        assert headers["Retry-After"]["required"] is True


def test_every_error_is_problem_json_with_the_problem_schema(spec):
    assert "Error" not in spec["components"]["schemas"]
    for method, path, operation in operations(spec):
        assert "default" not in operation["responses"], f"{method} {path}"
        for status, declared in operation["responses"].items():
            if int(status) < 400:
                continue
            content = resolve(spec, declared)["content"]
            assert list(content) == [PROBLEM], f"{method} {path} {status}: {list(content)}"
            assert ref_name(content[PROBLEM]["schema"]) == "Problem"


def test_the_problem_schema_is_what_errors_serve(spec):
    problem = schema_named(spec, "Problem")
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem["properties"]["status"]["type"] == "integer"
    errors = problem["properties"]["errors"]
    assert errors["type"] == "object"
    assert errors["additionalProperties"] == {"type": "array", "items": {"type": "string"}}


@pytest.mark.parametrize(
    ("method", "path", "status", "schema"),
    [
        ("get", "/api/v1/conflicts", 200, "ReviewList"),
        ("get", "/api/v1/progress", 200, "ProgressOut"),
        ("get", "/api/v1/sync/pull", 200, "PullPage"),
        ("post", "/api/v1/api-keys", 201, "ApiKeyOut"),
        ("post", "/api/v1/conflicts/{item_id}/resolve", 200, "ReviewItemOut"),
        ("post", "/api/v1/records/{record_id}/correct", 200, "CorrectedRecord"),
    ],
)
def test_success_is_documented_with_its_real_schema(spec, method, path, status, schema):
    declared = response_of(spec, method, path, status)
    assert ref_name(declared["content"]["application/json"]["schema"]) == schema
    assert schema_named(spec, schema)["required"]


def test_every_operation_documents_a_success(spec):
    for method, path, operation in operations(spec):
        successes = [s for s in operation["responses"] if s.startswith("2")]
        assert successes, f"{method} {path} documents no success"
        for status in successes:
            for media in resolve(spec, operation["responses"][status]).get("content", {}).values():
                assert media["schema"].get("$ref", "").rsplit("/", 1)[-1] != "Problem"


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ("DeviceOut", "revoked_at"),
        ("OrgUnitOut", "parent"),
        ("MetricTotal", "target"),
        ("MetricTotal", "percent"),
        ("PushResult", "id"),
        ("CorrectedRecord", "status"),
        ("OrgUnitIn", "parent"),
        ("TargetIn", "value"),
    ],
)
def test_nullable_fields_are_nullable(spec, schema, field):
    assert schema_named(spec, schema)["properties"][field]["nullable"] is True


def test_optional_fields_are_not_required(spec):
    assert "daily" not in schema_named(spec, "ProgressOut")["required"]
    assert "record_id" not in schema_named(spec, "ReviewItemOut")["required"]
    assert "original_status" not in schema_named(spec, "PushResult")["required"]
    assert "household_id" not in schema_named(spec, "ActivationV1")["required"]


def test_every_operation_has_a_description(spec):
    for method, path, operation in operations(spec):
        assert operation.get("summary") and operation.get("description"), f"{method} {path}"


def test_token_routes_declare_bearer_auth_401_and_403(spec):
    for method, path, operation in operations(spec):
        if (method, path) in PUBLIC:
            assert "security" not in operation, f"{method} {path}"
            continue
        assert operation["security"] == [{"bearerAuth": []}], f"{method} {path}"
        assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"
    assert {"401", "429"} <= set(spec["paths"]["/api/v1/auth/login"]["post"]["responses"])
    assert "401" in spec["paths"]["/api/v1/devices/enroll"]["post"]["responses"]


def test_routes_with_a_body_declare_413_415_422(spec):
    for method, path, operation in operations(spec):
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(operation["responses"]), f"{method} {path}"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("delete", "/api/v1/devices/{device_id}", 404),
        ("delete", "/api/v1/api-keys/{key_id}", 404),
        ("get", "/api/v1/progress", 404),
        ("get", "/api/v1/conflicts", 404),
        ("put", "/api/v1/campaigns/{code}/targets", 404),
        ("post", "/api/v1/org-units", 409),
        ("post", "/api/v1/users", 409),
        ("post", "/api/v1/campaigns", 409),
        ("get", "/api/v1/sync/pull", 400),
    ],
)
def test_route_specific_answers_are_declared(spec, method, path, status):
    assert str(status) in spec["paths"][path][method]["responses"]


def test_exports_document_their_media_types(spec):
    csv, ndjson = "text/csv", "application/x-ndjson"
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    expected = {
        "/api/v1/exports/submissions": {csv, ndjson, xlsx},
        "/api/v1/exports/progress": {csv, xlsx},
        "/api/v1/exports/follow-ups": {csv, xlsx},
    }
    for path, media in expected.items():
        ok = response_of(spec, "get", path, 200)
        assert set(ok["content"]) == media, path
        assert ok["content"].get(xlsx, {"schema": {"format": "binary"}})["schema"]["format"] == (
            "binary"
        )
    submissions = response_of(spec, "get", "/api/v1/exports/submissions", 200)
    assert submissions["headers"]["X-Next-Cursor"]["required"] is True


def test_patterns_are_ecma_regexes(spec):
    def patterns(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):  # not a property named so
                    yield value
                else:
                    yield from patterns(value)
        elif isinstance(node, list):
            for value in node:
                yield from patterns(value)

    found = list(patterns(spec))
    assert found
    for pattern in found:
        assert "\\Z" not in pattern and "\\A" not in pattern and "(?P" not in pattern, pattern
        assert pattern.startswith("^") and pattern.endswith("$"), pattern
    code = schema_named(spec, "OrgUnitIn")["properties"]["code"]["pattern"]
    assert re.search(code, "W-1.a_b") and not re.search(code, "W 1")


def test_integer_path_ids_are_bounded_by_their_column(spec):
    for path in ("/api/v1/conflicts/{item_id}/resolve", "/api/v1/api-keys/{key_id}"):
        item = spec["paths"][path]
        parameter = item["parameters"][0]
        assert parameter["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
