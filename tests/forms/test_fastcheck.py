"""The fast path accepts nothing the schemas refuse, loads exactly what they load, and accepts
the forms phones really send (else it would save nothing)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from formcases import TEXT, boundary_values, valid_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from sync.forms import fastcheck, schemas
from sync.forms.definitions import DEFINITIONS


def schemas_load(item):
    """What the schemas alone make of ``item`` (the fast path bypassed), or the errors."""
    envelope = schemas._envelope.load(item)
    schema = schemas._schemas.get((envelope["form"], envelope["form_version"]))
    if schema is None:
        raise ValidationError({"form_version": ["Unknown version of this form."]})
    envelope["data"] = schema.load(envelope["data"])
    return envelope


def agree(item) -> bool:
    """The fast path's verdict on ``item`` matches the schemas'; True if it accepted."""
    fast = fastcheck.submission(item)
    if fast is None:
        return False
    slow = schemas_load(item)  # must not raise: the fast path accepts only what they accept
    assert fast == slow
    assert list(fast) == list(slow) and list(fast["data"]) == list(slow["data"])
    for key in fast["data"]:
        assert type(fast["data"][key]) is type(slow["data"][key]), key
    return True


def envelope(form: str, version: int, data: dict, **extra) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": version,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": "2023-07-29T09:15:00+07:00",
        "data": data,
        **extra,
    }


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.form)
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_forms_take_the_fast_path_with_the_schemas_values(definition, data):
    item = envelope(definition.form, definition.version, data.draw(valid_data(definition)))
    assert agree(item), item


# Anything at all in every place: wrong types, odd spellings, blanks, huge and tiny numbers.
ANYTHING = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(TEXT, max_size=20)
    | st.sampled_from(
        [
            "",
            " ",
            "\r\n",
            "a\rb",
            "0012 0300 4005",
            "١٢٣",
            "W1",
            "camp",
            "{" + "0" * 32 + "}",
            "urn:uuid:" + str(uuid.UUID(int=7)),
            str(uuid.UUID(int=7)).upper(),
            "1:0",
            "9" * 16,
            "2023-07-29T09:15:00",
            "2023-07-29 09:15:00+07:00",
            "1969-12-31T23:59:59+00:00",
            "0001-01-01T00:00:00+14:00",
            "20230729T091500+0700",
            "activated",
            "rice",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.form)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_whatever_it_accepts_the_schemas_accept_alike(definition, data):
    good = data.draw(valid_data(definition))
    names = [f.name for f in definition.fields]
    spoiled = dict(good)
    for name in data.draw(st.lists(st.sampled_from(names), max_size=3)):
        spoiled[name] = data.draw(ANYTHING)
    if data.draw(st.booleans()):
        spoiled.pop(data.draw(st.sampled_from(names)), None)
    extra = data.draw(
        st.dictionaries(
            st.sampled_from(["hlc", "base_version", "recorded_at", "id", "form_version", "x"]),
            ANYTHING,
            max_size=2,
        )
    )
    item = envelope(definition.form, definition.version, spoiled, **extra)
    try:
        agree(item)
    except ValidationError as exc:  # the fast path accepted what the schemas refuse
        pytest.fail(f"fast path accepted {item!r}; the schemas said {exc.messages}")


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.form)
def test_values_exactly_at_a_limit_agree(definition):
    base = {}
    for f in definition.fields:
        if f.required:
            base[f.name] = boundary_values(f)[0][1] if boundary_values(f) else None
    for f in definition.fields:
        for _, value in boundary_values(f):
            item = envelope(definition.form, definition.version, {**base, f.name: value})
            try:
                agree(item)
            except ValidationError as exc:
                pytest.fail(f"{f.name}={value!r}: {exc.messages}")


def test_the_push_path_is_no_less_strict_than_before():
    """A few hand-picked cases the schemas refuse, which the fast path must leave to them."""
    now = datetime.now(UTC).isoformat()
    for item in [
        envelope(
            "gift",
            1,
            {"household_id": str(uuid.uuid4()), "gift_kind": "a", "round": "r", "count": True},
        ),
        envelope("gift", 1, {"household_id": str(uuid.uuid4()), "gift_kind": "a b", "round": "r"}),
        envelope("household_help", 1, {"household_id": "x", "kind": "cleanup"}),
        envelope(
            "household_help",
            1,
            {"household_id": str(uuid.uuid4()), "kind": "cleanup", "hours": 1.005},
        ),
        envelope("activation", 1, {"citizen_id": "00120300400", "status": "visited"}),
        envelope("activation", 1, {"citizen_id": "001203004005\n", "status": "visited"}),
        envelope("activation", 1, {"citizen_id": "001203004005", "status": "visited"}, hlc="١:0:x"),
        envelope(
            "activation",
            1,
            {"citizen_id": "001203004005", "status": "visited"},
            recorded_at=now[:19],
        ),
        envelope("activation", 2, {"citizen_id": "001203004005", "status": "visited"}),
        envelope("void", 1, {"target": str(uuid.uuid4()), "reason": "   "}),
    ]:
        assert fastcheck.submission(item) is None, item
        with pytest.raises(ValidationError):
            schemas_load(item)
