"""An instance filled as Collect fills a generated XForm parses into push items that the push
path's own validation accepts, with the same values a JSON push of the same answers loads; a
value one step past any limit is refused naming its field, by the parser or the push path; and
the XForm's own constraints refuse and accept exactly the values the push path does, so a form
Collect lets a volunteer save is one the server stores."""

from __future__ import annotations

import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
from formcases import MISSING, base_data, boundary_values, valid_data
from formcases import beyond_values as json_beyond_values
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openrosa_kit import XForm, case_id, evaluate, fill, java_double

from sync.forms.definitions import FieldDef
from sync.forms.schemas import validate_submission
from sync.openrosa.instances import InstanceError, parse_instance, push_items
from sync.openrosa.xforms import XFORMS, Choices, xform
from sync.openrosa.xmlchars import NOT_XML
from sync.push import pipeline

CHOICES = Choices(
    (("tet-2024", "Tết 2024"), ("he-2024", "Hè 2024")),
    (("p-ben-nghe", "Phường Bến Nghé"), ("p-da-kao", "Phường Đa Kao")),
)
PLACE = {"campaign": "tet-2024", "org_unit": "p-ben-nghe"}
FORMS = {d.form: d for d in XFORMS}


def validate_like_the_pipeline(items: list[dict]) -> list[dict | None]:
    """Each item's verdict from the push path's own validation step (``pipeline._validate``:
    the text rules, then ``validate_submission``): None when accepted, else its result."""
    state = SimpleNamespace(results=[None] * len(items), citizen_key="test-citizen-key")
    pipeline._validate(state, items, {})
    return state.results


def as_answer(f: FieldDef, value, *, collect: bool = True) -> str:
    """A value as the client writes it in the instance: numbers in a decimal question as
    Java's Double.toString (Collect) or as typed (Enketo)."""
    if isinstance(value, bool):
        raise AssertionError(value)
    if f.type == "number" and isinstance(value, int | float | Decimal):
        return java_double(value) if collect else str(value)
    return str(value)


def submit(form: str, answers: dict, **kwargs) -> list[dict]:
    xml = fill(xform(FORMS[form], CHOICES), {**PLACE, **answers}, **kwargs)
    return push_items(parse_instance(xml))


def full_answers(form: str) -> dict[str, str]:
    """Every field answered with a value the definition calls valid."""
    d = FORMS[form]
    answers = {name: str(v) for name, v in base_data(d).items()}
    for f in d.fields:
        if f.name in answers:
            continue
        if f.choices:
            answers[f.name] = f.choices[-1].value
        elif f.type == "uuid":
            answers[f.name] = str(uuid.uuid4())
        elif f.type == "string":
            answers[f.name] = "Số 12, hẻm 34 & <b>'x'</b>"
        else:
            answers[f.name] = as_answer(f, boundary_values(f)[-1][1])
    return answers


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("default_namespace", [False, True])
def test_a_filled_form_is_accepted_by_the_push_path(form, default_namespace):
    answers = full_answers(form)
    instance_id = str(uuid.uuid4())
    items = submit(form, answers, instance_id=instance_id, default_namespace=default_namespace)
    assert len(items) == 1
    (item,) = items
    assert item["id"] == instance_id
    assert item["form"] == form and item["form_version"] == 1
    assert item["campaign"] == "tet-2024" and item["org_unit"] == "p-ben-nghe"
    assert item["recorded_at"] == "2023-07-29T09:15:00.456+07:00"
    assert set(item["data"]) == {f.name for f in FORMS[form].fields}
    assert validate_like_the_pipeline(items) == [None]


@pytest.mark.parametrize("form", sorted(FORMS))
def test_the_template_defaults_alone_with_the_required_answers_are_accepted(form):
    items = submit(form, {name: str(v) for name, v in base_data(FORMS[form]).items()})
    assert validate_like_the_pipeline(items) == [None]
    d = FORMS[form]
    for f in d.fields:
        if f.default is not None:
            assert items[0]["data"][f.name] == f.default  # the template's default, typed


def test_without_end_the_start_is_the_time_recorded():
    xml = fill(xform(FORMS["gift"], CHOICES), {**PLACE, **full_answers("gift")}, end="")
    assert parse_instance(xml).recorded_at == "2023-07-29T09:10:00.123+07:00"


@pytest.mark.parametrize("form", sorted(FORMS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_xml_and_json_of_the_same_answers_load_the_same(form, data):
    """Whatever the definition calls valid loads to the same envelope through either path."""
    d = FORMS[form]
    # An empty answer is no answer in XML: the same as leaving the field out of the JSON.
    values = {k: v for k, v in data.draw(valid_data(d)).items() if v != ""}
    fields = {f.name: f for f in d.fields}
    for value in values.values():
        assume(not (isinstance(value, str) and NOT_XML.search(value)))
    collect = data.draw(st.booleans())
    answers = {name: as_answer(fields[name], v, collect=collect) for name, v in values.items()}
    # Left out of the JSON, an answer is emptied in the XML (the template's default with it):
    # both then load the schema's default.
    answers |= {f.name: None for f in d.fields if f.name not in values}
    instance_id = str(uuid.uuid4())
    (item,) = submit(form, answers, instance_id=instance_id)
    as_json = {
        "id": instance_id,
        "form": form,
        "form_version": 1,
        **PLACE,
        "recorded_at": "2023-07-29T09:15:00.456+07:00",
        "data": values,
    }
    assert validate_submission(item) == validate_submission(as_json)


# --- one step past each limit ----------------------------------------------------------------


def xml_beyond_values(f: FieldDef) -> list[tuple[str, object]]:
    """The JSON limit cases that an XML answer can carry (every XML answer is text: a string
    "1" is a fine count there), and a C1 control, which XML can carry and the contract not."""
    out = []
    for limit, value in json_beyond_values(f):
        if value is None or isinstance(value, bool):
            continue  # no null or boolean in XML: an empty element is a missing answer
        if limit == "type" and (value == "1" or value == 12):
            continue  # the same text as a valid answer
        if value == "":
            continue  # an empty element is no answer: for an optional field, a fine one
        if isinstance(value, str) and NOT_XML.search(value):
            continue  # cannot be written in XML at all (the parser's tests have these)
        out.append((limit, value))
    if f.type == "string" and not f.pattern:
        out.append(("control", "a\x85b"))
    if f.type == "integer":
        out.append(("type", "twelve"))
    if f.type == "number":
        out.append(("type", "1,5"))
    return out


LIMIT_CASES = [
    (form, f.name, limit, value)
    for form, d in FORMS.items()
    for f in d.fields
    for limit, value in xml_beyond_values(f)
]


def refused_naming(form: str, name: str, value, *, collect: bool) -> str | None:
    """How a submission with ``value`` for ``name`` is refused: "parser" or "push", with the
    field named; None if it was accepted."""
    f = FORMS[form].field(name)
    answers = {n: str(v) for n, v in base_data(FORMS[form]).items()}
    answers[name] = None if value is MISSING else as_answer(f, value, collect=collect)
    try:
        items = submit(form, answers)
    except InstanceError as exc:
        assert exc.field == name, (exc.field, exc.message)
        return "parser"
    (verdict,) = validate_like_the_pipeline(items)
    if verdict is None:
        return None
    assert verdict["status"] == "rejected"
    assert list(verdict["errors"]) == [f"data.{name}"], verdict["errors"]
    return "push"


@pytest.mark.parametrize(("form", "name", "limit", "value"), LIMIT_CASES, ids=case_id)
@pytest.mark.parametrize("collect", [True, False])
def test_one_step_past_a_limit_is_refused_naming_the_field(form, name, limit, value, collect):
    assert refused_naming(form, name, value, collect=collect) is not None


BOUNDARY_CASES = [
    (form, f.name, limit, value)
    for form, d in FORMS.items()
    for f in d.fields
    for limit, value in boundary_values(f)
]


@pytest.mark.parametrize(("form", "name", "limit", "value"), BOUNDARY_CASES, ids=case_id)
@pytest.mark.parametrize("collect", [True, False])
def test_a_value_at_a_limit_is_accepted(form, name, limit, value, collect):
    assert refused_naming(form, name, value, collect=collect) is None


# --- the XForm's constraints agree with the push path -----------------------------------------


def collect_accepts(form: str, name: str, typed: str | None) -> bool:
    """Whether Collect lets the volunteer save ``typed`` (what they typed; None: nothing) for
    ``name`` in the generated XForm: its widget's type, required, the choices, the constraint."""
    doc = XForm.parse(xform(FORMS[form], CHOICES))
    bind = doc.bind(name)
    if typed is None or typed == "":
        return bind.get("required") != "true()"
    f = FORMS[form].field(name)
    if f.choices:
        return typed in [value for value, _ in doc.choices(name)]
    if bind["type"] == "int" and not (typed.lstrip("-").isascii() and typed.lstrip("-").isdigit()):
        return False
    if bind["type"] == "decimal":
        try:
            float(typed)
        except ValueError:
            return False
    constraint = bind.get("constraint")
    return constraint is None or evaluate(constraint, typed)


AGREEMENT_CASES = [(*case, "beyond") for case in LIMIT_CASES] + [
    (*case, "at") for case in BOUNDARY_CASES
]


@pytest.mark.parametrize(("form", "name", "limit", "value", "kind"), AGREEMENT_CASES, ids=case_id)
def test_the_xform_constraints_refuse_what_the_push_path_refuses(form, name, limit, value, kind):
    f = FORMS[form].field(name)
    typed = None if value is MISSING else str(value)  # as typed, not as Collect stores it
    if f.type == "number" and isinstance(value, float):
        typed = repr(value)
    server_accepts = refused_naming(form, name, value, collect=True) is None
    assert collect_accepts(form, name, typed) == server_accepts, (typed, server_accepts)
