"""``POST …/submission`` through the test client, on both databases: a form ODK Collect filled
goes through the same push path as the phone app's JSON, and every answer is an
OpenRosaResponse (201 applied/duplicate/conflict, 409 reused id, 400 naming the field)."""

from __future__ import annotations

import uuid

import pytest
from collect_kit import (
    CONTENT_TYPE,
    instance,
    is_openrosa_xml,
    make_device,
    message,
    multipart,
    nature,
    new_id,
    submit,
)
from sqlalchemy import func, select

from sync.models import ReviewItem, Submission
from sync.progress.verify import verify

HOUSEHOLD = "8d0f2a4e-6f39-4c1e-9a57-3b2f7d1e0c11"
GIFT = {
    "campaign": "camp",
    "org_unit": "W1",
    "household_id": HOUSEHOLD,
    "gift_kind": "rice",
    "round": "2023-tet",
    "value_vnd": 300000,
}


@pytest.fixture
def collect(client, world):
    return make_device(client, world)


def totals(client, world, unit="W1") -> dict[str, int]:
    body = client.get(
        "/api/v1/progress",
        query_string={"campaign": "camp", "org_unit": unit},
        headers=world.headers("admin"),
    ).get_json()
    return {k: v["value"] for k, v in body["totals"].items()}


def stored(session, sid: str) -> Submission | None:
    session.close()
    return session.get(Submission, sid)


def test_a_gift_is_stored_as_this_device_and_counted(client, world, collect, session):
    sid = new_id()
    answer = submit(client, collect, instance(client, collect, "gift", GIFT, instance_id=sid))
    assert answer.status_code == 201, answer.data
    assert is_openrosa_xml(answer) and nature(answer) == "submit_success"
    assert message(answer) == "Máy chủ đã nhận."  # Vietnamese unless asked otherwise
    row = stored(session, sid)
    assert row.device_id == collect.device_id and row.form == "gift"
    assert row.data["value_vnd"] == 300000 and row.data["gift_kind"] == "rice"
    assert row.recorded_at.isoformat() == "2023-07-29T02:15:00+00:00"
    got = totals(client, world)
    assert (got["gifts_delivered"], got["gift_value_vnd"]) == (1, 300000)
    assert verify(session) == []


def test_messages_in_english_on_request(client, collect):
    xml = instance(client, collect, "gift", GIFT)
    answer = submit(client, collect, xml, headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert message(answer) == "Received."
    again = submit(client, collect, xml, headers={"Accept-Language": "en"})
    assert again.status_code == 201 and message(again) == "Already received; nothing changed."


def test_the_same_instance_resent_is_counted_once(client, world, collect, session):
    sid = new_id()
    xml = instance(client, collect, "gift", GIFT, instance_id=sid)
    for _ in range(3):
        answer = submit(client, collect, xml)
        assert answer.status_code == 201, answer.data
    assert "trước đó" in message(answer)  # "received before; nothing changed"
    assert totals(client, world)["gifts_delivered"] == 1
    session.close()
    assert session.scalar(select(func.count()).select_from(Submission)) == 1


def test_an_instance_id_reused_for_other_content_is_409(client, world, collect, session):
    sid = new_id()
    assert (
        submit(
            client, collect, instance(client, collect, "gift", GIFT, instance_id=sid)
        ).status_code
        == 201
    )
    other = instance(client, collect, "gift", {**GIFT, "value_vnd": 1}, instance_id=sid)
    answer = submit(client, collect, other, headers={"Accept-Language": "en"})
    assert answer.status_code == 409 and is_openrosa_xml(answer)
    assert nature(answer) == "error"
    assert "meta/instanceID" in message(answer) and "different content" in message(answer)
    assert stored(session, sid).data["value_vnd"] == 300000
    assert totals(client, world)["gift_value_vnd"] == 300000


def test_a_gift_edited_twice_counts_once_with_the_last_values(client, world, collect, session):
    first, second, third = new_id(), new_id(), new_id()
    sends = [
        instance(client, collect, "gift", GIFT, instance_id=first),
        instance(
            client,
            collect,
            "gift",
            {**GIFT, "value_vnd": 350000},
            instance_id=second,
            deprecated_id=first,
        ),
        instance(
            client,
            collect,
            "gift",
            {**GIFT, "value_vnd": 400000},
            instance_id=third,
            deprecated_id=second,
        ),
    ]
    for xml in sends:
        assert submit(client, collect, xml).status_code == 201
    for xml in sends:  # Collect resends: nothing changes
        answer = submit(client, collect, xml)
        assert answer.status_code == 201, answer.data
    got = totals(client, world)
    assert (got["gifts_delivered"], got["gift_value_vnd"], got["suspected_doubles"]) == (
        1,
        400000,
        0,
    )
    assert [stored(session, s).voided for s in (first, second, third)] == [True, True, False]
    session.close()
    voids = session.scalars(select(Submission).where(Submission.form == "void")).all()
    assert sorted(v.void_target for v in voids) == sorted([first, second])
    assert {v.data["reason"] for v in voids} == {"edited in ODK Collect"}
    assert session.scalar(select(func.count()).select_from(ReviewItem)) == 0
    assert verify(session) == []


def test_an_activation_edit_is_a_later_visit(client, world, collect, session):
    citizen = {"campaign": "camp", "org_unit": "W1", "citizen_id": "079100000101"}
    first, second = new_id(), new_id()
    visited = instance(
        client,
        collect,
        "activation",
        {**citizen, "status": "visited"},
        instance_id=first,
        end="2023-07-29T09:15:00.000+07:00",
    )
    activated = instance(
        client,
        collect,
        "activation",
        {**citizen, "status": "activated"},
        instance_id=second,
        deprecated_id=first,
        end="2023-07-29T10:15:00.000+07:00",
    )
    assert submit(client, collect, visited).status_code == 201
    assert submit(client, collect, activated).status_code == 201
    got = totals(client, world)
    assert (got["citizens_reached"], got["accounts_activated"]) == (1, 1)
    assert not stored(session, first).voided  # an activation is never voided
    session.close()
    assert session.scalar(select(func.count()).where(Submission.form == "void")) == 0
    assert verify(session) == []


def test_a_second_gift_of_a_kind_is_a_conflict_answered_201(client, world, collect):
    assert submit(client, collect, instance(client, collect, "gift", GIFT)).status_code == 201
    again = submit(
        client, collect, instance(client, collect, "gift", GIFT), headers={"Accept-Language": "en"}
    )
    assert again.status_code == 201
    assert "lead will review" in message(again)
    assert totals(client, world)["suspected_doubles"] == 1


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({**GIFT, "org_unit": "W3"}, "org_unit"),  # outside the device's wards
        ({**GIFT, "org_unit": "NOPE"}, "org_unit"),
        ({**GIFT, "campaign": "nope"}, "campaign"),
        ({**GIFT, "household_id": "not-a-uuid"}, "household_id"),
        ({**GIFT, "value_vnd": "-1"}, "value_vnd"),
        ({**GIFT, "gift_kind": None}, "gift_kind"),
        ({**GIFT, "donor": "x" * 101}, "donor"),
    ],
)
def test_invalid_data_is_400_naming_the_field(client, world, collect, session, answers, field):
    answer = submit(
        client,
        collect,
        instance(client, collect, "gift", answers),
        headers={"Accept-Language": "en"},
    )
    assert answer.status_code == 400, answer.data
    assert is_openrosa_xml(answer) and nature(answer) == "error"
    assert f"{field}:" in message(answer), message(answer)
    session.close()
    assert session.scalar(select(func.count()).select_from(Submission)) == 0


def test_an_invalid_activation_names_citizen_id(client, collect):
    xml = instance(
        client,
        collect,
        "activation",
        {"campaign": "camp", "org_unit": "W1", "citizen_id": "123", "status": "visited"},
    )
    answer = submit(client, collect, xml, headers={"Accept-Language": "en"})
    assert answer.status_code == 400 and "citizen_id:" in message(answer)
    vietnamese = submit(client, collect, xml)
    assert "citizen_id:" in message(vietnamese) and "Máy chủ từ chối" in message(vietnamese)


def test_an_unknown_element_is_named(client, collect):
    xml = instance(client, collect, "gift", GIFT).replace(b"<meta>", b"<colour>red</colour><meta>")
    answer = submit(client, collect, xml, headers={"Accept-Language": "en"})
    assert answer.status_code == 400 and "colour" in message(answer), message(answer)


def test_an_edit_whose_new_form_is_invalid_keeps_nothing(client, world, collect, session):
    first = new_id()
    assert (
        submit(
            client, collect, instance(client, collect, "gift", GIFT, instance_id=first)
        ).status_code
        == 201
    )
    bad = instance(client, collect, "gift", {**GIFT, "value_vnd": "-5"}, deprecated_id=first)
    answer = submit(client, collect, bad)
    assert answer.status_code == 400 and "value_vnd" in message(answer)
    assert not stored(session, first).voided  # the void was rolled back with the bad form
    session.close()
    assert session.scalar(select(func.count()).select_from(Submission)) == 1
    assert totals(client, world)["gifts_delivered"] == 1


def test_attachments_are_accepted_and_ignored(client, world, collect, session):
    sid = new_id()
    xml = instance(client, collect, "gift", GIFT, instance_id=sid)
    answer = submit(
        client,
        collect,
        xml,
        **{"photo.jpg": b"\xff\xd8\xff" + b"\x00" * 5000, "*isIncomplete*": b"no"},
    )
    assert answer.status_code == 201, answer.data
    assert stored(session, sid) is not None


def test_head_says_how_much_it_takes(client, collect):
    answer = client.head(collect.base + "/submission")
    assert answer.status_code == 204
    assert answer.headers["X-OpenRosa-Accept-Content-Length"] == str(10 * 1024 * 1024)
    assert answer.headers["X-OpenRosa-Version"] == "1.0"
    assert answer.data == b""


# --- hostile and broken bodies -----------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<data id="gift" version="1"><note>&lol9;</note></data>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<data id="gift" version="1"><note>&xxe;</note></data>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE data SYSTEM "http://127.0.0.1:9/evil.dtd"><data id="gift" version="1"/>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x"> %p;]><data id="gift"/>"""
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "'
    + b"x" * 50_000
    + b'">]><data id="gift">'
    + b"&a;" * 50_000
    + b"</data>"
)


@pytest.mark.parametrize(
    "xml",
    [
        BILLION_LAUGHS,
        XXE,
        EXTERNAL_DTD,
        PARAMETER_ENTITY,
        QUADRATIC,
        b"",
        b"<data",
        b"not xml at all",
        b"<?xml version='1.0' encoding='utf-16'?><data/>",
        b"\xff\xfe<\x00d\x00",
        b"<data id='gift'>\xc3\x28</data>",
        b"<data id='gift' version='1'>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</data>",
        b"<data id='void' version='1'><target/></data>",
        b"<x:data xmlns:x='urn:x' id='gift'/>",
        b"<data id='gift' version='1'><meta><instanceID>uuid:nope</instanceID></meta></data>",
    ],
    ids=[
        "billion-laughs",
        "xxe",
        "external-dtd",
        "parameter-entity",
        "quadratic-blowup",
        "empty",
        "truncated",
        "not-xml",
        "utf-16",
        "bom-junk",
        "bad-utf8",
        "deep",
        "void-form",
        "foreign-namespace",
        "bad-instance-id",
    ],
)
def test_hostile_or_broken_xml_is_a_clear_400(client, collect, session, xml):
    answer = submit(client, collect, xml, headers={"Accept-Language": "en"})
    assert answer.status_code == 400, (answer.status_code, answer.data[:300])
    assert is_openrosa_xml(answer) and nature(answer) == "error"
    assert b"root:" not in answer.data  # no /etc/passwd
    assert len(answer.data) < 2000
    session.close()
    assert session.scalar(select(func.count()).select_from(Submission)) == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", CONTENT_TYPE),
        (b"--nope\r\n\r\n", CONTENT_TYPE),
        (multipart(b"<data/>")[:60], CONTENT_TYPE),  # cut short
        (multipart(b"<data/>"), "multipart/form-data"),  # no boundary
        (multipart(b"<data/>"), "multipart/form-data; boundary=other"),
        (b"xml_submission_file=%3Cdata%2F%3E", "application/x-www-form-urlencoded"),
        (b"<data/>", "text/xml"),
        (multipart(b"<data/>").replace(b"xml_submission_file", b"other_file"), CONTENT_TYPE),
        (b"--" + b"-" * 70 + b"\r\n" * 10_000, "multipart/form-data; boundary=" + "-" * 70),
    ],
    ids=[
        "empty",
        "garbage",
        "cut-short",
        "no-boundary",
        "wrong-boundary",
        "urlencoded",
        "bare-xml",
        "no-xml-part",
        "many-lines",
    ],
)
def test_malformed_multipart_is_a_clear_400(client, collect, session, body, content_type):
    answer = client.post(
        collect.base + "/submission",
        data=body,
        content_type=content_type,
        headers={"Accept-Language": "en"},
    )
    assert answer.status_code == 400, (answer.status_code, answer.data[:300])
    assert is_openrosa_xml(answer)
    session.close()
    assert session.scalar(select(func.count()).select_from(Submission)) == 0


def test_the_xml_part_sent_as_a_plain_field_is_read_too(client, collect):
    xml = instance(client, collect, "gift", GIFT).decode()
    part = 'Content-Disposition: form-data; name="xml_submission_file"'
    body = f"--b\r\n{part}\r\n\r\n{xml}\r\n--b--\r\n".encode()
    answer = client.post(
        collect.base + "/submission", data=body, content_type="multipart/form-data; boundary=b"
    )
    assert answer.status_code == 201, answer.data


def test_a_body_over_10_mib_is_413(client, collect, session):
    xml = instance(client, collect, "gift", GIFT)
    answer = submit(client, collect, xml, **{"photo.jpg": b"\x00" * (10 * 1024 * 1024)})
    assert answer.status_code == 413 and is_openrosa_xml(answer)
    assert "10 MiB" in message(answer)
    session.close()
    assert session.scalar(select(func.count()).select_from(Submission)) == 0


def test_a_body_between_5_and_10_mib_is_taken(client, collect):
    """The API's 5 MiB limit is not the OpenRosa routes': Collect sends photos along."""
    xml = instance(client, collect, "gift", GIFT)
    answer = submit(client, collect, xml, **{"photo.jpg": b"\x00" * (7 * 1024 * 1024)})
    assert answer.status_code == 201, answer.data


def test_instance_ids_are_submission_ids(client, collect, session):
    sid = str(uuid.uuid4()).upper()  # Collect may write upper case
    xml = instance(client, collect, "gift", GIFT, instance_id=sid)
    assert submit(client, collect, xml).status_code == 201
    assert stored(session, sid.lower()) is not None


def test_an_instance_as_enketo_writes_it(client, world, collect, session):
    """Enketo keeps the form's default namespace on the instance, asks the form list for one
    form (``?formID=``), and names the XML part's file after the part."""
    listed = client.get(collect.base + "/formList", query_string={"formID": "gift"})
    assert listed.data.count(b"<formID>") == 1 and b"<formID>gift</formID>" in listed.data
    sid = new_id()
    from collect_kit import xform
    from openrosa.openrosa_kit import fill

    xml = fill(
        xform(client, collect, "gift"),
        {k: str(v) for k, v in GIFT.items()},
        instance_id=sid,
        default_namespace=True,
    )
    body = multipart(xml).replace(b'filename="submission.xml"', b'filename="xml_submission_file"')
    answer = client.post(collect.base + "/submission", data=body, content_type=CONTENT_TYPE)
    assert answer.status_code == 201, answer.data
    assert stored(session, sid).device_id == collect.device_id
    assert totals(client, world)["gift_value_vnd"] == 300000


def test_an_edit_that_moves_a_gift_to_another_ward(client, world, session):
    """The volunteer picked the wrong ward: the edit voids the gift where it lay and adds the
    new one in the ward it names; a resend changes nothing."""
    from sync.accounts import users

    users.create(session, "vol-c1", "volunteer", ["C1"])
    session.commit()
    device = make_device(client, world, lead="lead-c1", volunteer="vol-c1", units=("C1",))
    first = new_id()
    assert (
        submit(
            client, device, instance(client, device, "gift", GIFT, instance_id=first)
        ).status_code
        == 201
    )
    moved = instance(client, device, "gift", {**GIFT, "org_unit": "W2"}, deprecated_id=first)
    for _ in range(2):
        answer = submit(client, device, moved)
        assert answer.status_code == 201, message(answer)
    assert totals(client, world, "W1")["gifts_delivered"] == 0
    assert totals(client, world, "W2")["gifts_delivered"] == 1
    assert stored(session, first).voided
    assert verify(session) == []
