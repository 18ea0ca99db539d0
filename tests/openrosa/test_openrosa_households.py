"""Households for Collect: with ``Choices(households=True)`` the forms pick ``household_id``
from the manifest's households file (filtered by ward, searched by address, or a new one),
fill in the address and warn before a second gift of a kind in a round; the submissions carry
only the contract's fields; the file is deterministic CSV."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from openrosa_kit import JAVA, XF, XForm, fill, read_with_pyxform, validate_with_odk
from test_openrosa_roundtrip import PLACE, full_answers, validate_like_the_pipeline

from sync.openrosa import households, xforms
from sync.openrosa.households import HouseholdRow, households_csv
from sync.openrosa.instances import parse_instance, push_items
from sync.openrosa.listings import form_hash
from sync.openrosa.xforms import XFORMS, Choices, xform

WITH = Choices(
    (("tet-2024", "Tết 2024"), ("he-2024", "Hè 2024")),
    (("p-ben-nghe", "Phường Bến Nghé"), ("p-da-kao", "Phường Đa Kao")),
    households=True,
)
WITHOUT = Choices(WITH.campaigns, WITH.wards)
FORMS = {d.form: d for d in XFORMS}
H1 = "5b0e3c2e-8a53-4c87-9f54-1f2a3b4c5d6e"
H2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


@pytest.mark.skipif(JAVA is None, reason="ODK Validate needs java (apt-get install default-jre)")
@pytest.mark.parametrize("form", sorted(FORMS))
def test_odk_validate_accepts_the_forms_with_the_household_list(form, tmp_path):
    validate_with_odk(xform(FORMS[form], WITH), tmp_path)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_pyxform_reads_the_forms_with_the_household_list(form, tmp_path):
    # pyxform's reader cannot follow an instance's src (it reads every secondary instance's
    # <root>, its own select_one_from_file output included): give it the file's rows inline.
    rows = "".join(
        f"<item><name>{v}</name><label>{v}</label><org_unit>p-ben-nghe</org_unit></item>"
        for v in ("new", H1)
    )
    xml = xform(FORMS[form], WITH).replace(
        b'<instance id="households" src="jr://file-csv/households.csv" />',
        f'<instance id="households"><root>{rows}</root></instance>'.encode(),
    )
    survey = read_with_pyxform(xml, tmp_path)
    # The reader puts a control whose node is in a group without a group control at the top.
    found = {e.name: e.type for e in survey.iter_descendants()}
    assert found["household"] == "select one"
    assert found["household_id"] == "calculate"
    assert found["new_household_id"] == "calculate"
    if form == "gift":
        assert found["already_given"] == "note"


@pytest.mark.parametrize("form", sorted(FORMS))
def test_household_id_is_calculated_from_the_pick(form):
    d = FORMS[form]
    doc = XForm.parse(xform(d, WITH))
    binds = doc.binds()
    required = d.field("household_id").required
    pick = binds["/data/collect/household"]
    assert (pick.get("required") == "true()") == required
    assert binds["/data/collect/new_household_id"]["calculate"] == "once(uuid())"
    assert binds["/data/household_id"]["calculate"] == (
        "if(/data/collect/household = 'new', /data/collect/new_household_id,"
        " /data/collect/household)"
    )
    body = doc.root.find("{http://www.w3.org/1999/xhtml}body")
    refs = [c.get("ref") for c in body]
    assert "/data/household_id" not in refs  # no control: calculated
    assert refs.index("/data/collect/household") == refs.index("/data/household_address") - 1
    control = next(c for c in body if c.get("ref") == "/data/collect/household")
    assert control.get("appearance") == "autocomplete"
    itemset = control.find(f"{XF}itemset")
    assert itemset.get("nodeset") == (
        "instance('households')/root/item[org_unit = /data/org_unit or name = 'new']"
    )
    setvalue = control.find(f"{XF}setvalue")
    assert setvalue.get("event") == "xforms-value-changed"
    assert setvalue.get("ref") == "/data/household_address"
    external = [i for i in doc.model.iter(f"{XF}instance") if i.get("id") == "households"]
    assert [i.get("src") for i in external] == ["jr://file-csv/households.csv"]
    # The helpers sit in one group after start and end, before meta.
    tail = ["start", "end", "collect/household", "collect/new_household_id"]
    tail += ["collect/already_given"] if form == "gift" else []
    assert doc.field_names()[-len(tail) - 1 :] == [*tail, "meta/instanceID"]
    assert doc.label("collect/household")["Tiếng Việt (vi)"] == d.field("household_id").label.vi
    assert doc.label("collect/household", "hint") == {
        "Tiếng Việt (vi)": xforms.PICK_HINT.vi,
        "English (en)": xforms.PICK_HINT.en,
    }


def test_the_gift_form_warns_before_a_second_gift_of_a_kind_in_a_round():
    doc = XForm.parse(xform(FORMS["gift"], WITH))
    warning = doc.bind("collect/already_given")
    assert warning["readonly"] == "true()"
    assert warning["relevant"] == (
        "contains(instance('households')/root/item[name = /data/collect/household]/gifts,"
        " concat('|', /data/gift_kind, ':', /data/round, '|'))"
    )
    assert "đã nhận quà" in doc.label("collect/already_given")["Tiếng Việt (vi)"]
    assert "collect/already_given" not in XForm.parse(xform(FORMS["household_help"], WITH)).binds()


def test_without_the_list_the_forms_are_unchanged_and_the_list_changes_the_hash():
    for d in XFORMS:
        plain = xform(d, WITHOUT)
        assert b"collect" not in plain and b"households.csv" not in plain
        assert form_hash(xform(d, WITH)) != form_hash(plain)


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("pick", [H1, "new"])
def test_a_submission_carries_the_contract_fields_only(form, pick):
    answers = {**PLACE, **full_answers(form)}
    new_id = str(uuid.uuid4())
    # What Collect computes: household_id from the pick.
    answers["collect/household"] = pick
    answers["collect/new_household_id"] = new_id
    answers["household_id"] = new_id if pick == "new" else pick
    if form == "gift":
        answers["collect/already_given"] = None
    xml = fill(xform(FORMS[form], WITH), answers)
    assert b"<collect>" in xml
    instance = parse_instance(xml)
    assert instance.data["household_id"] == answers["household_id"]
    assert "collect" not in instance.data and not any("/" in k for k in instance.data)
    assert validate_like_the_pipeline(push_items(instance)) == [None]


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_the_households_file():
    data = households_csv(
        [
            HouseholdRow(H2.upper(), "p-da-kao", 'Số 9, "Hẻm" 3,\nTổ 4', (("rice", "2023-tet"),)),
            HouseholdRow(
                H1, "p-ben-nghe", None, (("toilet", "r1"), ("rice", "r1"), ("rice", "r1"))
            ),
            HouseholdRow("0b7e5d2f-3a1c-4e8b-9f6a-2d4c6e8f0a1b", "p-ben-nghe", "Số 1"),
            HouseholdRow("1c8f6e30-4b2d-4f9c-8a7b-3e5d7f9a1b2c", "p-ben-nghe", "Số 1"),
            HouseholdRow("2d906f41-5c3e-4a0d-9b8c-4f6e8a0b2c3d", "p-da-kao", "Số 1"),
        ]
    )
    assert data.splitlines()[0] == b"name,label,org_unit,address,gifts"
    rows = rows_of(data)
    assert rows[0] == {
        "name": "new",
        "label": households.NEW_LABEL,
        "org_unit": "",
        "address": "",
        "gifts": "",
    }
    by_id = {r["name"]: r for r in rows[1:]}
    assert by_id[H2] == {
        "name": H2,
        "label": 'Số 9, "Hẻm" 3, Tổ 4',
        "org_unit": "p-da-kao",
        "address": 'Số 9, "Hẻm" 3, Tổ 4',
        "gifts": "|rice:2023-tet|",
    }
    assert by_id[H1]["label"] == f"({H1[:8]})" and by_id[H1]["gifts"] == "|rice:r1|toilet:r1|"
    # The same address twice in a ward: told apart; once in another ward: as it is.
    assert by_id["0b7e5d2f-3a1c-4e8b-9f6a-2d4c6e8f0a1b"]["label"] == "Số 1 (0b7e5d2f)"
    assert by_id["2d906f41-5c3e-4a0d-9b8c-4f6e8a0b2c3d"]["label"] == "Số 1"
    # By ward, then address: the same households always give the same bytes.
    assert [r["org_unit"] for r in rows[1:]] == sorted(r["org_unit"] for r in rows[1:])
    again = households_csv(
        [HouseholdRow(r["name"], r["org_unit"], r["address"] or None) for r in reversed(rows[1:])]
    )
    assert [r["name"] for r in rows_of(again)] == [r["name"] for r in rows]
    header_and_new = f"name,label,org_unit,address,gifts\nnew,{households.NEW_LABEL},,,\n"
    assert households_csv([]) == header_and_new.encode()


def test_the_gift_key_is_what_the_form_looks_for():
    doc = XForm.parse(xform(FORMS["gift"], WITH))
    relevant = doc.bind("collect/already_given")["relevant"]
    sep = re.search(r"concat\('(.)'", relevant)[1]
    assert sep == households.SEP
    (row,) = rows_of(households_csv([HouseholdRow(H1, "w", "a", (("rice", "2023-tet"),))]))[1:]
    assert f"{sep}rice:2023-tet{sep}" in row["gifts"]


@pytest.mark.parametrize(
    "row",
    [
        HouseholdRow("not-a-uuid", "w", "a"),
        HouseholdRow(H1, "a ward", "a"),
        HouseholdRow(H1, "w", "a", (("rice|x", "r"),)),
        HouseholdRow(H1, "w", "a", (("rice", "r:1"),)),
    ],
)
def test_the_households_file_refuses_what_it_cannot_carry(row):
    with pytest.raises(ValueError):
        households_csv([row])


def test_xml_illegal_characters_in_an_address_are_replaced():
    (row,) = rows_of(households_csv([HouseholdRow(H1, "w", "a\x00b\x0bc\ud800")]))[1:]
    assert row["address"] == "a\ufffdb\ufffdc\ufffd"
