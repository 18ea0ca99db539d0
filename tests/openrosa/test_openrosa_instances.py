"""Reading submissions: every bad document (malformed, not UTF-8, entity bombs, external
entities, DTDs, oversized, deeply nested, the wrong root or form, a missing or malformed
instanceID) is an InstanceError naming what is wrong, and nothing else is ever raised; edits
make a void with a deterministic id before the new event; the OpenRosa response is always
well-formed."""

from __future__ import annotations

import time
import uuid

import defusedxml.ElementTree as defused
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openrosa_kit import fill
from test_openrosa_roundtrip import (
    CHOICES,
    FORMS,
    PLACE,
    full_answers,
    validate_like_the_pipeline,
)

from sync.openrosa.instances import (
    EDIT_REASON,
    EDIT_VOID_NAMESPACE,
    MAX_ANSWER_CHARS,
    MAX_XML_BYTES,
    Instance,
    InstanceError,
    openrosa_response,
    parse_instance,
    push_items,
)
from sync.openrosa.xforms import xform
from sync.openrosa.xmlchars import NOT_XML

ID = "2f1c6a2e-7c1b-4b8e-9a35-6f0f5b7d2c10"
OLD = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def filled(form: str = "gift", answers: dict | None = None, **kwargs) -> bytes:
    kwargs.setdefault("instance_id", ID)
    return fill(
        xform(FORMS[form], CHOICES), {**PLACE, **full_answers(form), **(answers or {})}, **kwargs
    )


def body(inner: str, *, root: str = "data", attrs: str = 'id="gift" version="1.x"') -> bytes:
    meta = f"<meta><instanceID>uuid:{ID}</instanceID></meta>"
    return f"<{root} {attrs}>{inner}{meta}</{root}>".encode()


def error_of(xml) -> InstanceError:
    with pytest.raises(InstanceError) as caught:
        parse_instance(xml)
    return caught.value


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE data [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<data id="gift" version="1.x"><note>&lol9;</note></data>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<data id="gift" version="1.x"><note>&xxe;</note></data>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>
<data id="gift" version="1.x"/>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE data SYSTEM "http://127.0.0.1:9/data.dtd">
<data id="gift" version="1.x"/>"""
EMPTY_DTD = b'<!DOCTYPE data><data id="gift" version="1.x"/>'

BAD = {
    "empty": (b"", "xml"),
    "not xml": (b"hello", "xml"),
    "malformed": (b'<data id="gift"><note></data>', "xml"),
    "cut short": (filled()[:-20], "xml"),
    "junk after the root": (filled() + b"<more/>", "xml"),
    "invalid utf-8": (body("<note>caf</note>").replace(b"caf", b"caf\xc3("), "xml"),
    "latin-1 bytes": (
        body("<note>café</note>").replace("é".encode(), "é".encode("latin-1")),
        "xml",
    ),
    "overlong utf-8": (body("<note>a</note>").replace(b">a<", b">\xc0\xaf<"), "xml"),
    "cesu-8 surrogate": (body("<note>a</note>").replace(b">a<", b">\xed\xa0\x80<"), "xml"),
    "utf-16": ('<data id="gift" version="1.x"/>'.encode("utf-16"), "xml"),
    "billion laughs": (BILLION_LAUGHS, "xml"),
    "external entity (XXE)": (XXE, "xml"),
    "parameter entity": (PARAMETER_ENTITY, "xml"),
    "external DTD": (EXTERNAL_DTD, "xml"),
    "empty DTD": (EMPTY_DTD, "xml"),
    "undeclared entity": (body("<note>&nbsp;</note>"), "xml"),
    "unbound prefix": (body("<x:note>a</x:note>"), "xml"),
    "wrong root": (body("", root="html"), "xml"),
    "no form id": (body("", attrs='version="1.x"'), "form"),
    "unknown form id": (body("", attrs='id="survey" version="1.x"'), "form"),
    "void is no XForm": (body("", attrs='id="void" version="1"'), "form"),
    "no version": (body("", attrs='id="gift"'), "form_version"),
    "unreadable version": (body("", attrs='id="gift" version="v1"'), "form_version"),
    "unknown version": (body("", attrs='id="gift" version="99.abc"'), "form_version"),
    "no meta": (b'<data id="gift" version="1.x"><note>a</note></data>', "meta/instanceID"),
    "empty instanceID": (filled().replace(f"uuid:{ID}".encode(), b""), "meta/instanceID"),
    "non-uuid instanceID": (filled().replace(ID.encode(), b"12345"), "meta/instanceID"),
    "instanceID in braces": (
        filled().replace(ID.encode(), ("{" + ID + "}").encode()),
        "meta/instanceID",
    ),
    "bad deprecatedID": (filled(deprecated_id="not-a-uuid"), "meta/deprecatedID"),
    "edit of itself": (filled(deprecated_id=ID), "meta/deprecatedID"),
    "instanceID twice": (
        filled().replace(b"</meta>", f"<instanceID>uuid:{OLD}</instanceID></meta>".encode()),
        "meta/instanceID",
    ),
    "a field twice": (filled().replace(b"<note", b"<round>x</round><note"), "round"),
    "a field nested": (
        filled(answers={"donor": None}).replace(b"<donor />", b"<donor><b>x</b></donor>"),
        "donor",
    ),
    "meta nested": (filled().replace(b"</meta>", b"<x><y/></x></meta>"), "meta/x"),
    "count not a number": (filled(answers={"count": "three"}), "count"),
    "count with decimals": (filled(answers={"count": "1.5"}), "count"),
    "count huge": (filled(answers={"count": "9" * 40}), "count"),
    "value in exponent beyond range": (filled(answers={"value_vnd": "1E400"}), "value_vnd"),
    "quantity with a comma": (filled("household_help", answers={"quantity": "1,5"}), "quantity"),
    "quantity NaN": (filled("household_help", answers={"quantity": "NaN"}), "quantity"),
    "quantity Infinity": (filled("household_help", answers={"quantity": "Infinity"}), "quantity"),
    "quantity too precise": (
        filled("household_help", answers={"quantity": "0.1000000000000000055511151231257827"}),
        "quantity",
    ),
    "quantity tiny": (filled("household_help", answers={"quantity": "1E-99"}), "quantity"),
    "deep nesting": (
        b'<data id="gift" version="1">' + b"<a>" * 5000 + b"</a>" * 5000 + b"</data>",
        "xml",
    ),
    "many elements": (body("<x/>" * 5000), "xml"),
    "not bytes": (None, "xml"),
    "a number": (12, "xml"),
    "lone surrogate text": ("<data>\ud800</data>", "xml"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_documents_are_refused_naming_the_field(case):
    xml, field = BAD[case]
    error = error_of(xml)
    assert error.field == field, error
    assert error.message and error.message.endswith("."), error.message
    assert str(error) == f"{field}: {error.message}"


def test_oversized_is_refused_before_parsing():
    big = filled(answers={"note": None}).replace(
        b"<note />", b"<note>" + b"a" * MAX_XML_BYTES + b"</note>"
    )
    started = time.monotonic()
    error = error_of(big)
    assert error.field == "xml" and "10 MiB" in error.message
    assert time.monotonic() - started < 2  # no parse: the length alone
    # Just under the cap parses, up to the answer that is longer than any can be.
    at_cap = filled(answers={"note": None})
    pad = MAX_XML_BYTES - len(at_cap) + len(b"<note />") - len(b"<note></note>")
    at_cap = at_cap.replace(b"<note />", b"<note>" + b"a" * pad + b"</note>")
    assert len(at_cap) == MAX_XML_BYTES
    started = time.monotonic()
    error = error_of(at_cap)
    assert error.field == "note" and str(MAX_ANSWER_CHARS) in error.message
    assert time.monotonic() - started < 3  # generous: CI shares two cores
    # An answer too long for its field, but not absurdly so, is the push path's to refuse.
    (verdict,) = validate_like_the_pipeline(
        push_items(parse_instance(filled(answers={"note": "a" * MAX_ANSWER_CHARS})))
    )
    assert list(verdict["errors"]) == ["data.note"]


def test_the_bombs_are_refused_quickly():
    for xml in (BILLION_LAUGHS, XXE, PARAMETER_ENTITY, body("<x/>" * 200_000)):
        started = time.monotonic()
        assert error_of(xml).field == "xml"
        assert time.monotonic() - started < 3  # generous: CI shares two cores


def test_what_the_clients_vary_in_is_read_alike():
    collect = parse_instance(filled())
    enketo = parse_instance(filled(default_namespace=True))
    assert collect == enketo
    # A declared encoding other than UTF-8 changes nothing: the bytes are read as UTF-8.
    declared = b'<?xml version="1.0" encoding="ISO-8859-1"?>' + filled().split(b"?>", 1)[1]
    assert parse_instance(declared) == collect
    # Text, a bare uuid, upper case, blanks around it, comments and processing instructions.
    text = filled().decode().replace(f"uuid:{ID}", f"  {ID.upper()}\n")
    text = text.replace("<note />", "<!-- a comment --><?pi x?><note />")
    assert parse_instance(text) == collect
    assert collect.instance_id == ID


def test_values_are_typed_by_the_form_and_kept_exactly():
    instance = parse_instance(
        filled(
            "household_help",
            {
                "quantity": "1.0E7",  # Collect's Double.toString from 10^7 up
                "hours": "2.50",
                "volunteers": " 3 ",
                "note": "  giữ nguyên  \n dòng 2 ",
                "household_address": "Số 1 &amp; 2",
            },
        )
    )
    assert instance.data["quantity"] == 10_000_000 and type(instance.data["quantity"]) is int
    assert instance.data["hours"] == 2.5 and type(instance.data["hours"]) is float
    assert instance.data["volunteers"] == 3
    assert instance.data["note"] == "  giữ nguyên  \n dòng 2 "  # the push path strips
    assert instance.data["household_address"] == "Số 1 &amp; 2"


def test_empty_answers_are_left_out_and_unknown_elements_kept_for_the_push_path():
    xml = filled("gift", {"donor": None, "note": ""})
    xml = xml.replace(b"<note", b"<vneid_password>hunter2</vneid_password><extra /><note")
    instance = parse_instance(xml)
    assert "donor" not in instance.data and "note" not in instance.data
    assert instance.data["vneid_password"] == "hunter2" and instance.data["extra"] == ""
    (verdict,) = validate_like_the_pipeline(push_items(instance))
    assert set(verdict["errors"]) == {"data.vneid_password", "data.extra"}


def test_a_missing_place_or_time_is_named_by_the_push_path():
    instance = parse_instance(filled(answers={"campaign": None, "org_unit": ""}, start="", end=""))
    assert instance.campaign is None and instance.org_unit is None and instance.recorded_at is None
    (item,) = push_items(instance)
    assert "campaign" not in item and "recorded_at" not in item
    (verdict,) = validate_like_the_pipeline([item])
    assert set(verdict["errors"]) == {"campaign", "org_unit", "recorded_at"}


# --- edits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["gift", "household_help"])
def test_an_edit_of_an_event_voids_the_event_it_replaces(form):
    instance = parse_instance(filled(form, deprecated_id=OLD.upper()))
    assert instance.deprecated_id == OLD
    void, new = push_items(instance)
    assert void == {
        "id": str(uuid.uuid5(EDIT_VOID_NAMESPACE, ID)),
        "form": "void",
        "form_version": 1,
        "campaign": PLACE["campaign"],
        "org_unit": PLACE["org_unit"],
        "recorded_at": new["recorded_at"],
        "data": {"target": OLD, "reason": EDIT_REASON},
    }
    assert new["id"] == ID and new["form"] == form
    assert validate_like_the_pipeline([void, new]) == [None, None]
    # A resend makes the very same items, so the push path answers both as duplicates.
    assert push_items(parse_instance(filled(form, deprecated_id=OLD))) == [void, new]


def test_an_edit_chain_voids_each_replaced_event_once():
    third = "0b7e5d2f-3a1c-4e8b-9f6a-2d4c6e8f0a1b"
    second = push_items(parse_instance(filled(instance_id=ID, deprecated_id=OLD)))
    later = push_items(parse_instance(filled(instance_id=third, deprecated_id=ID)))
    assert [i["data"].get("target") for i in second + later] == [OLD, None, ID, None]
    assert len({i["id"] for i in second + later}) == 4


def test_an_edit_of_an_activation_is_a_later_visit():
    items = push_items(parse_instance(filled("activation", deprecated_id=OLD)))
    assert [i["form"] for i in items] == ["activation"]
    assert items[0]["id"] == ID
    assert validate_like_the_pipeline(items) == [None]


# --- never anything but InstanceError ---------------------------------------------------------


def outcome(xml) -> Instance | InstanceError:
    try:
        return parse_instance(xml)
    except InstanceError as exc:
        return exc


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=2000), st.text(max_size=2000)))
def test_arbitrary_input_raises_nothing_but_instance_error(data):
    outcome(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_submissions_raise_nothing_but_instance_error(data):
    """A real submission with bytes replaced, inserted or cut: read, or refused, and what is
    read goes through the push path's validation without an exception of its own."""
    xml = bytearray(filled(data.draw(st.sampled_from(sorted(FORMS)))))
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(xml)))
        action = data.draw(st.sampled_from(["replace", "insert", "cut"]))
        chunk = data.draw(
            st.one_of(
                st.binary(min_size=1, max_size=8),
                st.sampled_from([b"<", b">", b"&", b"&amp;", b"</", b"/>", b"<x>", b"\xc3", b'"']),
            )
        )
        if action == "replace":
            xml[at : at + len(chunk)] = chunk
        elif action == "insert":
            xml[at:at] = chunk
        else:
            del xml[at : at + len(chunk)]
    result = outcome(bytes(xml))
    if isinstance(result, Instance):
        validate_like_the_pipeline(push_items(result))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(form=st.sampled_from(sorted(FORMS)), data=st.data())
def test_any_answers_are_read_or_refused_and_never_crash_the_push_path(form, data):
    d = FORMS[form]
    names = ["campaign", "org_unit", *(f.name for f in d.fields)]
    answers = {
        name: data.draw(
            st.one_of(
                st.none(),
                st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
            ),
            label=name,
        )
        for name in names
    }
    answers = {k: v for k, v in answers.items() if v is None or _xml_text(v)}
    xml = fill(xform(d, CHOICES), answers, instance_id=str(uuid.uuid4()))
    result = outcome(xml)
    if isinstance(result, Instance):
        for verdict in validate_like_the_pipeline(push_items(result)):
            assert verdict is None or verdict["status"] == "rejected"


def _xml_text(value: str) -> bool:
    return not NOT_XML.search(value)


# --- the response ----------------------------------------------------------------------------


def test_openrosa_response_is_well_formed_whatever_the_message():
    message = "Field <citizen_id> & 'x' \"y\" \x00\x07\x85\ud800 done — đã nhận"
    xml = openrosa_response(message, "error")
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = defused.fromstring(xml)
    ns = "{http://openrosa.org/http/response}"
    assert root.tag == f"{ns}OpenRosaResponse"
    (node,) = root
    assert node.tag == f"{ns}message" and node.get("nature") == "error"
    assert node.text == "Field <citizen_id> & 'x' \"y\" \ufffd\ufffd\ufffd\ufffd done — đã nhận"
    assert defused.fromstring(openrosa_response("ok"))[0].get("nature") == "submit_success"
