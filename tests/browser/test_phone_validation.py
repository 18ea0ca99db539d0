"""The app checks a form exactly as the server does: the same values accepted, the same fields
refused, for every value the definitions call valid, one step past every limit, and arbitrary
values (blanks of every kind, astral characters, numbers with many decimals, wrong types).

The app's own forms.js runs in Chromium; the server's generated schemas run here; both read the
same definitions (what GET /api/v1/forms serves)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from formcases import boundary_cases, limit_cases, valid_data, with_value
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError
from phone_kit import launch_browser

from sync.forms import definitions
from sync.forms.schemas import validate_submission
from sync.text import mask_numbers

FORMS_JS = Path(__file__).resolve().parents[2] / "clients" / "phone" / "forms.js"
DEFINITIONS = {d["form"]: d for d in definitions.document()["forms"]}


@pytest.fixture(scope="module")
def app_validate():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        page = browser.new_page()
        page.set_content("<!doctype html><title>forms.js</title>")
        page.add_script_tag(
            content=FORMS_JS.read_text() + "\nwindow.__forms = { validate };", type="module"
        )
        page.wait_for_function("window.__forms !== undefined")

        def run(form: str, data: dict) -> tuple[set[str], dict, dict]:
            out = page.evaluate(
                "([d, v]) => { const r = window.__forms.validate(d, v);"
                " return {errors: Object.keys(r.errors), data: r.data, sent: JSON.stringify(v)}; }",
                [DEFINITIONS[form], data],
            )
            return set(out["errors"]), out["data"], json.loads(out["sent"])

        run.page = page
        yield run
        browser.close()


def server_validate(form: str, data: dict) -> tuple[set[str], dict]:
    item = {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": "2023-07-29T09:15:00+07:00",
        "data": data,
    }
    try:
        loaded = validate_submission(item)["data"]
    except ValidationError as exc:
        return set(exc.messages.get("data", {})), {}
    return set(), loaded


def agree(app_validate, form: str, data: dict) -> None:
    # The server judges what the app would send: its values as JavaScript holds them, written
    # as JSON (a float 0.0 from here is the number 0 there, and is sent as 0).
    app_errors, app_data, sent = app_validate(form, data)
    data = sent
    server_errors, server_data = server_validate(form, data)
    assert app_errors == server_errors, (form, data)
    if not server_errors:
        for name, value in server_data.items():
            if name not in data:
                continue  # a default the server fills in; the app leaves it to the server
            mine = app_data[name]
            if isinstance(value, Decimal):
                assert Decimal(str(mine)) == value, (name, mine, value)
            elif isinstance(mine, str) and mine != value:
                # Free text is stored with its long numbers masked (a citizen id typed into a
                # note): the app sends what was typed and leaves the masking to the server.
                assert mask_numbers(mine) == value, (name, mine, value)
            else:
                assert mine == value, (name, mine, value)


@pytest.mark.parametrize(("form", "name", "limit", "value"), limit_cases() + boundary_cases())
def test_the_app_and_the_server_agree_at_every_limit(app_validate, form, name, limit, value):
    agree(app_validate, form, with_value(definitions.BY_KEY[(form, 1)], name, value))


@pytest.mark.parametrize("definition", definitions.DEFINITIONS, ids=lambda d: d.form)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_app_accepts_what_the_definitions_call_valid(app_validate, definition, data):
    values = data.draw(valid_data(definition))
    agree(app_validate, definition.form, values)


# Characters where Python and JavaScript disagree about blanks, lengths or digits.
TRICKY = st.sampled_from(
    list(" \t\n\r\x0b\x0c\xa0\u1680\u2000\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u180e")
    + ["😀", "𝟙", "é", "ẩ", "٣", "1", "a", "-", "_", ".", "{", "}", ":"]
)
ANY_TEXT = st.text(TRICKY, max_size=8) | st.text(
    st.characters(exclude_categories=("Cs",)), max_size=30
)
ANY_VALUE = (
    ANY_TEXT
    | st.integers(-(10**15), 10**15)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(-2000, 2000, places=3).map(float)
    | st.booleans()
    | st.none()
    | st.uuids()
    .map(
        lambda u: st.sampled_from(
            [str(u), u.hex, "{" + str(u) + "}", "urn:uuid:" + str(u), str(u).upper()]
        )
    )
    .flatmap(lambda s: s)
)


def _without_c1(value):
    # C1 controls (U+0080-U+009F) are refused by the contract and by the app; the server's
    # own check for them arrives with the lead's hardening (issue 9). Until then they are
    # left out here, and the app's refusal is tested on its own below.
    if isinstance(value, str):
        return "".join(c for c in value if not "\x80" <= c <= "\x9f")
    return value


@pytest.mark.parametrize("definition", definitions.DEFINITIONS, ids=lambda d: d.form)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_app_and_the_server_agree_on_arbitrary_values(app_validate, definition, data):
    values = data.draw(valid_data(definition))
    for f in definition.fields:
        if data.draw(st.booleans()):
            values[f.name] = _without_c1(data.draw(ANY_VALUE))
    agree(app_validate, definition.form, values)


@pytest.mark.parametrize("reason", ["68810589-9201-db45-23e3-d304300f8919", "cccd 0012 0300 4005"])
def test_long_numbers_in_free_text_are_masked_by_the_server(app_validate, reason):
    """Found by the property above: a uuid's first 12 digits read as a number in groups."""
    agree(app_validate, "void", {"target": str(uuid.uuid4()), "reason": reason})


@pytest.mark.parametrize("note", ["a\r\nb", "\r\n", "a\rb", "a\nb", " a\r\n", "a\r"])
def test_the_app_reads_line_breaks_as_the_server_does(app_validate, note):
    """A textarea sends CR LF: both keep it as a line break; a CR alone is refused by both."""
    agree(
        app_validate,
        "activation",
        {"citizen_id": "000000000000", "status": "visited", "note": note},
    )


def test_the_app_refuses_c1_controls_and_lone_surrogates(app_validate):
    page = app_validate.page
    for text in ("a\\u0085b", "a\\u009fb", "a\\ud800b", "\\udc00"):
        errors = page.evaluate(
            f"d => Object.keys(window.__forms.validate(d, {{target: "
            f"'7c9e6679-7425-40de-944b-e07fc1f90ae7', reason: '{text}'}}).errors)",
            DEFINITIONS["void"],
        )
        assert errors == ["reason"], text
