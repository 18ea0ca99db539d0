"""Every generated XForm is valid for ODK Validate and readable by pyxform's own reader, carries
the definitions' fields, types, limits and choices in Vietnamese and English, and the device's
campaigns and wards; its hash and version change exactly when its XML does."""

from __future__ import annotations

import hashlib
import re

import defusedxml.ElementTree as ET
import pytest
from openrosa_kit import JAVA, JR, XF, XForm, read_with_pyxform, validate_with_odk

from sync.forms.definitions import DEFINITIONS, VOID_V1
from sync.openrosa import xforms
from sync.openrosa.listings import FormListEntry, MediaFile, form_hash, form_list, manifest
from sync.openrosa.xforms import PATTERN_MSG_VI, XFORMS, Choices, xform

ONE = Choices((("tet-2024", "Tết 2024"),), (("p-ben-nghe", "Phường Bến Nghé"),))
MANY = Choices(
    (("c2", "Chiến dịch hè"), ("c1", "Quà Tết")),  # given out of order: kept sorted
    tuple((f"w{i:02}", f"Phường {i} – Quận Gò Vấp, đường Nguyễn Trãi") for i in range(25)),
)
NASTY = Choices(
    (("c.1", "Tom & Jerry <b>bold</b> \"quoted\" 'single'"), ("c_2", "]]> &amp; <!-- x -->")),
    (("w-1", 'Xã Ea H\'Leo & "Krông"'), ("w.2", "   "), ("W3", "")),
)
CHOICE_SETS = {"one": ONE, "many": MANY, "nasty": NASTY}
CASES = [(f.form, set_name) for f in XFORMS for set_name in CHOICE_SETS]


def generated(form: str, set_name: str) -> bytes:
    return xform(next(f for f in XFORMS if f.form == form), CHOICE_SETS[set_name])


def definition(form: str):
    return next(f for f in XFORMS if f.form == form)


@pytest.mark.skipif(JAVA is None, reason="ODK Validate needs java (apt-get install default-jre)")
@pytest.mark.parametrize(("form", "set_name"), CASES)
def test_odk_validate_accepts_every_generated_form(form, set_name, tmp_path):
    warnings = validate_with_odk(generated(form, set_name), tmp_path)
    assert "error" not in warnings.lower(), warnings


@pytest.mark.parametrize(("form", "set_name"), CASES)
def test_pyxform_reads_every_generated_form(form, set_name, tmp_path):
    xml = generated(form, set_name)
    if set_name == "one":
        # pyxform's reader (xform2json, "experimental") fails on a list of one choice, its
        # own output included: one <item> becomes a dict, not a list. Read a copy with the
        # lists doubled to check the rest of the form.
        xml = _doubled_items(xml)
    survey = read_with_pyxform(xml, tmp_path)
    d = definition(form)
    names = [c.name for c in survey.children]
    assert names == ["campaign", "org_unit", *(f.name for f in d.fields), "start", "end", "meta"]
    types = {c.name: c.type for c in survey.children}
    for f in d.fields:
        expected = {
            "choice": "select one",
            "integer": "integer",
            "number": "decimal",
        }.get(f.type, "text")
        if f.type == "integer" and f.max >= 10**xforms.INT_DIGITS:
            expected = "text"  # digits on the number pad: Collect's integer takes 9 at most
        assert types[f.name] == expected, f.name
    assert types["start"] == "start" and types["end"] == "end"
    assert survey.id_string == form
    as_dict = survey.to_json_dict()
    for child in as_dict["children"]:
        if child["name"] in {f.name for f in d.fields}:
            f = d.field(child["name"])
            assert child["label"] == {"Tiếng Việt (vi)": f.label.vi, "English (en)": f.label.en}
            assert (child.get("bind", {}).get("required") == "yes") == f.required


def _doubled_items(xml: bytes) -> bytes:
    text = xml.decode()
    return re.sub(r"(\s*<item>.*?</item>)", r"\1\1", text, flags=re.S).encode()


@pytest.mark.parametrize(("form", "set_name"), CASES)
def test_fields_languages_and_choices_come_from_the_definitions(form, set_name):
    d, choices = definition(form), CHOICE_SETS[set_name]
    doc = XForm.parse(generated(form, set_name))
    title = doc.root.find("{http://www.w3.org/1999/xhtml}head/{http://www.w3.org/1999/xhtml}title")
    assert title.text == d.label.vi
    template = doc.template
    assert template.tag == f"{XF}data"
    assert template.get("id") == form
    assert re.fullmatch(rf"{d.version}\.[0-9a-f]{{10}}", template.get("version"))
    assert doc.field_names() == [
        "campaign",
        "org_unit",
        *(f.name for f in d.fields),
        "start",
        "end",
        "meta/instanceID",
    ]
    assert list(doc.translations()) == ["Tiếng Việt (vi)", "English (en)"]
    assert doc.default_language() == "Tiếng Việt (vi)"
    vi, en = doc.translations().values()
    assert vi.keys() == en.keys()  # every text in both languages

    binds = doc.binds()
    for f in d.fields:
        bind = binds[f"/data/{f.name}"]
        assert (bind.get("required") == "true()") == f.required, f.name
        assert doc.label(f.name) == {"Tiếng Việt (vi)": f.label.vi, "English (en)": f.label.en}
        if f.type == "uuid":
            assert doc.label(f.name, "hint")["English (en)"] == xforms.UUID_HINT.en
        elif f.hint:
            assert doc.label(f.name, "hint")["English (en)"] == f.hint.en
        if f.choices:
            assert doc.choices(f.name) == [
                (c.value, {"Tiếng Việt (vi)": c.label.vi, "English (en)": c.label.en})
                for c in f.choices
            ]
        constraint = bind.get("constraint", "")
        for limit in (f.min, f.max, f.max_length):
            if limit is not None:
                assert re.search(rf"\b{limit}\b", constraint), (f.name, limit, constraint)
        if f.min_length:
            assert f">= {f.min_length}" in constraint
        if f.pattern:
            assert f"^(?:{f.pattern})" in constraint
        if f.decimals is not None:
            assert f"round(., {f.decimals}) = ." in constraint
        if constraint:
            assert bind[f"{JR}constraintMsg"] == f"jr:itext('/data/{f.name}:constraintMsg')"
            messages = doc.label(f.name, "constraintMsg")
            assert messages["English (en)"] and messages["Tiếng Việt (vi)"]
            assert messages["English (en)"] != messages["Tiếng Việt (vi)"]
        default = template.find(f"{XF}{f.name}").text
        assert default == (None if f.default is None else str(f.default))
        expected_type = {"integer": "int", "number": "decimal"}.get(f.type, "string")
        if f.type == "integer" and f.max >= 10**xforms.INT_DIGITS:
            expected_type = "string"
        assert bind["type"] == expected_type, f.name

    for name, pairs in (("campaign", choices.campaigns), ("org_unit", choices.wards)):
        assert binds[f"/data/{name}"]["required"] == "true()"
        assert doc.choices(name) == [
            (code, {"Tiếng Việt (vi)": title or code, "English (en)": title or code})
            for code, title in sorted(pairs)
        ]
        only = template.find(f"{XF}{name}").text
        assert only == (pairs[0][0] if len(pairs) == 1 else None)

    for moment in ("start", "end"):
        bind = binds[f"/data/{moment}"]
        assert bind["type"] == "dateTime"
        assert bind[f"{JR}preload"] == "timestamp"
        assert bind[f"{JR}preloadParams"] == moment
    instance_id = binds["/data/meta/instanceID"]
    assert instance_id["calculate"] == "concat('uuid:', uuid())"
    assert instance_id["readonly"] == "true()"


def test_names_with_markup_survive_as_text():
    doc = XForm.parse(generated("gift", "nasty"))
    titles = dict((code, labels["English (en)"]) for code, labels in doc.choices("campaign"))
    assert titles == {
        "c.1": "Tom & Jerry <b>bold</b> \"quoted\" 'single'",
        "c_2": "]]> &amp; <!-- x -->",
    }
    wards = dict((code, labels["Tiếng Việt (vi)"]) for code, labels in doc.choices("org_unit"))
    assert wards == {"W3": "W3", "w-1": 'Xã Ea H\'Leo & "Krông"', "w.2": "   "}


def test_a_place_without_a_name_is_shown_by_its_code():
    doc = XForm.parse(
        xform(definition("gift"), Choices([("c1", None)], [("w1", ""), ("w2", None)]))
    )
    assert [labels["English (en)"] for _, labels in doc.choices("org_unit")] == ["w1", "w2"]
    assert [labels["Tiếng Việt (vi)"] for _, labels in doc.choices("campaign")] == ["c1"]


def test_vietnamese_is_written_as_utf8_and_normalised_as_given():
    xml = generated("activation", "many")
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert "Phường 3 – Quận Gò Vấp".encode() in xml
    assert "Kích hoạt định danh điện tử".encode() in xml


def test_every_pattern_message_has_a_vietnamese_translation():
    for d in DEFINITIONS:
        for f in d.fields:
            if f.pattern_error:
                assert f.pattern_error in PATTERN_MSG_VI, (d.form, f.name)


def test_the_same_choices_give_the_same_bytes_and_a_rename_a_new_hash_and_version():
    form = definition("gift")
    first = xform(form, MANY)
    xforms.published.cache_clear()
    again = xform(form, Choices(tuple(reversed(MANY.campaigns)), tuple(reversed(MANY.wards))))
    assert again == first and form_hash(again) == form_hash(first)

    renamed = Choices(MANY.campaigns, ((MANY.wards[0][0], "Phường Mới"), *MANY.wards[1:]))
    changed = xform(form, renamed)
    assert changed != first
    assert form_hash(changed) != form_hash(first)
    version = XForm.parse(first).template.get("version")
    new_version = XForm.parse(changed).template.get("version")
    assert new_version != version and new_version.split(".")[0] == version.split(".")[0] == "1"

    another_ward = Choices(MANY.campaigns, (*MANY.wards, ("w99", "Phường 99")))
    assert form_hash(xform(form, another_ward)) != form_hash(first)
    # Another form with the same choices differs too.
    assert form_hash(xform(definition("activation"), MANY)) != form_hash(first)


@pytest.mark.parametrize(("form", "set_name"), CASES)
def test_the_version_is_a_digest_of_the_document(form, set_name):
    xml = generated(form, set_name)
    version = XForm.parse(xml).template.get("version")
    # The same document with the bare form version in its place hashes to the digest.
    bare = xml.replace(f'version="{version}"'.encode(), f'version="{version[0]}"'.encode())
    assert hashlib.sha256(bare).hexdigest()[:10] == version.split(".")[1]


@pytest.mark.parametrize(("form", "set_name"), CASES)
def test_published_gives_the_version_and_hash_of_the_document(form, set_name):
    d, choices = definition(form), CHOICE_SETS[set_name]
    entry = xforms.published(d, choices)
    assert entry.xml == xform(d, choices)
    assert entry.version == xforms.xform_version(d, choices)
    assert entry.version == XForm.parse(entry.xml).template.get("version")
    assert entry.hash == form_hash(entry.xml)


def test_form_hash_is_openrosa_md5():
    assert form_hash(b"abc") == "md5:900150983cd24fb0d6963f7d28e17f72"


def test_no_xform_for_void_and_none_without_choices():
    with pytest.raises(ValueError):
        xform(VOID_V1, ONE)
    with pytest.raises(ValueError):
        xform(definition("gift"), Choices((), ONE.wards))
    with pytest.raises(ValueError):
        xform(definition("gift"), Choices(ONE.campaigns, ()))


@pytest.mark.parametrize(
    ("campaigns", "wards"),
    [
        ((("a b", "space in a code"),), ONE.wards),
        ((("c1", "x"), ("c1", "twice")), ONE.wards),
        (ONE.campaigns, (("w1", "bell \x07"),)),
        (ONE.campaigns, (("w1", "lone \ud800"),)),
        (ONE.campaigns, (("", "empty code"),)),
    ],
)
def test_choices_refuse_what_a_form_cannot_carry(campaigns, wards):
    with pytest.raises(ValueError):
        Choices(campaigns, wards)


def test_form_list_is_an_openrosa_xforms_list():
    entries = [
        FormListEntry(
            "gift",
            "Trao quà",
            "1.abc",
            "md5:00",
            "https://h/openrosa/key/t/forms/gift?a=1&b=2",
            manifest_url="https://h/m?x=<y>",
        ),
        FormListEntry("activation", "Kích hoạt", "1.def", "md5:11", "https://h/forms/activation"),
    ]
    xml = form_list(entries)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    ns = "{http://openrosa.org/xforms/xformsList}"
    assert root.tag == f"{ns}xforms"
    got = [{child.tag.removeprefix(ns): child.text for child in x} for x in root]
    assert got == [
        {
            "formID": "gift",
            "name": "Trao quà",
            "version": "1.abc",
            "hash": "md5:00",
            "downloadUrl": "https://h/openrosa/key/t/forms/gift?a=1&b=2",
            "manifestUrl": "https://h/m?x=<y>",
        },
        {
            "formID": "activation",
            "name": "Kích hoạt",
            "version": "1.def",
            "hash": "md5:11",
            "downloadUrl": "https://h/forms/activation",
        },
    ]
    assert ET.fromstring(form_list([])).tag == f"{ns}xforms"


def test_manifest_lists_media_files():
    xml = manifest([MediaFile("households.csv", "md5:ab", "https://h/f/households.csv?v=1&x")])
    root = ET.fromstring(xml)
    ns = "{http://openrosa.org/xforms/xformsManifest}"
    assert root.tag == f"{ns}manifest"
    (media,) = root
    assert {c.tag.removeprefix(ns): c.text for c in media} == {
        "filename": "households.csv",
        "hash": "md5:ab",
        "downloadUrl": "https://h/f/households.csv?v=1&x",
    }
