"""One definition per form: what it calls valid the server accepts, one step past any limit it
states the server refuses, naming the field; and GET /api/v1/forms is those definitions."""

from __future__ import annotations

import uuid

import pytest
from formcases import boundary_cases, limit_cases, valid_data, with_value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from sync.forms import definitions
from sync.forms.schemas import FORMS, CorrectionValues, validate_submission

AT = "2023-07-29T09:15:00+07:00"


def envelope(form: str, data: dict, unit: str = "W1") -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": unit,
        "recorded_at": AT,
        "data": data,
    }


def errors_of(item: dict) -> dict | None:
    try:
        validate_submission(item)
    except ValidationError as exc:
        return exc.messages
    return None


# --- the definitions and the schemas generated from them ---------------------------------------


def test_every_accepted_form_has_one_definition_and_a_schema_generated_from_it():
    assert set(FORMS) == set(definitions.BY_KEY)
    for key, schema in FORMS.items():
        definition = definitions.BY_KEY[key]
        declared = schema().fields
        assert list(declared) == [f.name for f in definition.fields]
        assert {n for n, f in declared.items() if f.required} == {
            f.name for f in definition.fields if f.required
        }


def test_a_lead_correction_takes_the_activation_fields_but_the_citizen_id():
    assert set(CorrectionValues().fields) == {
        f.name for f in definitions.ACTIVATION_V1.fields if f.name != "citizen_id"
    }
    assert not any(f.required for f in CorrectionValues().fields.values())


def test_every_field_has_vietnamese_and_english_labels_and_choices():
    for d in definitions.DEFINITIONS:
        assert d.label.vi and d.label.en
        for f in d.fields:
            assert f.label.vi and f.label.en, f.name
            for choice in f.choices:
                assert choice.label.vi and choice.label.en, (f.name, choice.value)


@pytest.mark.parametrize("form_def", definitions.DEFINITIONS, ids=lambda d: d.form)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_what_the_definitions_call_valid_is_accepted(form_def, data):
    values = data.draw(valid_data(form_def))
    assert errors_of(envelope(form_def.form, values)) is None


@pytest.mark.parametrize(
    ("form", "name", "limit", "value"),
    boundary_cases(),
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
def test_a_value_exactly_at_a_stated_limit_is_accepted(form, name, limit, value):
    definition = definitions.BY_KEY[(form, 1)]
    assert errors_of(envelope(form, with_value(definition, name, value))) is None


@pytest.mark.parametrize(
    ("form", "name", "limit", "value"),
    limit_cases(),
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
def test_one_step_past_a_stated_limit_is_refused_naming_the_field(form, name, limit, value):
    definition = definitions.BY_KEY[(form, 1)]
    errors = errors_of(envelope(form, with_value(definition, name, value)))
    assert errors is not None, (form, name, limit, value)
    assert list(errors) == ["data"] and list(errors["data"]) == [name]


# --- through the server, on both databases ------------------------------------------------------


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batch=st.lists(
        st.sampled_from(definitions.DEFINITIONS).flatmap(
            lambda d: valid_data(d).map(lambda values: (d.form, values))
        ),
        min_size=1,
        max_size=8,
    )
)
def test_the_server_applies_what_the_definitions_call_valid(phone, batch):
    answer = phone.push([envelope(form, values) for form, values in batch])
    assert answer.status_code == 200
    for result in answer.get_json()["results"]:
        assert result["status"] in ("applied", "conflict"), result


def test_the_server_refuses_one_step_past_every_limit_naming_the_field(phone):
    cases = limit_cases()
    items = [
        envelope(form, with_value(definitions.BY_KEY[(form, 1)], name, value))
        for form, name, _, value in cases
    ]
    results = []
    for start in range(0, len(items), 200):
        answer = phone.push(items[start : start + 200])
        assert answer.status_code == 200
        results += answer.get_json()["results"]
    for (form, name, limit, value), result in zip(cases, results, strict=True):
        assert result["status"] == "rejected", (form, name, limit, value)
        assert list(result["errors"]) == [f"data.{name}"], (form, name, limit, result)


def test_the_server_applies_every_value_exactly_at_a_limit(phone):
    items = [
        envelope(form, with_value(definitions.BY_KEY[(form, 1)], name, value))
        for form, name, _, value in boundary_cases()
    ]
    results = phone.push(items).get_json()["results"]
    # Gifts to one household with one kind and round are suspected doubles of each other:
    # stored, and counted apart, which is not a refusal.
    for item, result in zip(items, results, strict=True):
        if item["form"] == "gift" and result["status"] == "conflict":
            assert result["flags"] == ["suspected_double"]
        else:
            assert result["status"] == "applied", (item, result)


# --- GET /api/v1/forms --------------------------------------------------------------------------


def test_get_forms_serves_the_definitions_without_a_token(client):
    answer = client.get("/api/v1/forms")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body == definitions.document()
    served = {(f["form"], f["form_version"]): f for f in body["forms"]}
    assert set(served) == set(FORMS)
    gift = served[("gift", 1)]
    assert gift["kind"] == "event"
    count = next(f for f in gift["fields"] if f["name"] == "count")
    assert count == {
        "name": "count",
        "type": "integer",
        "required": False,
        "default": 1,
        "min": 1,
        "max": 1_000_000,
        "label": {"vi": "Số phần", "en": "Count"},
    }
    status = next(f for f in served[("activation", 1)]["fields"] if f["name"] == "status")
    assert [c["value"] for c in status["choices"]] == [
        "visited",
        "no_smartphone",
        "installed",
        "activated",
        "refused",
        "ineligible",
    ]
    assert status["choices"][3]["label"] == {
        "vi": "Đã kích hoạt tài khoản",
        "en": "Account activated",
    }


def test_get_forms_answers_304_to_its_own_etag(client):
    first = client.get("/api/v1/forms")
    again = client.get("/api/v1/forms", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""


def test_get_forms_takes_no_body_and_answers_other_methods_with_problem_json(client):
    answer = client.post("/api/v1/forms", json={})
    assert answer.status_code == 405
    assert answer.mimetype == "application/problem+json"


def test_the_openapi_document_carries_the_generated_form_schemas(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    activation = schemas["ActivationV1"]
    assert activation["required"] == ["citizen_id", "status"]
    assert activation["additionalProperties"] is False
    assert activation["properties"]["status"]["enum"][0] == "visited"
    assert schemas["GiftV1"]["properties"]["value_vnd"]["maximum"] == 10**13
    assert "/api/v1/forms" in spec["paths"]
