"""Enketo fills wardsync's forms: the XForms a real ``wardsync serve`` offers an OpenRosa device
are turned into Enketo's web form by enketo-transformer and run by enketo-core in Chromium
(``tests/kit/enketo.py``), typed into as a volunteer types, and the instances Enketo writes are
posted as Enketo Express posts them. What Enketo sends counts exactly as a JSON push would.

Enketo Express itself (its Node server, which fetches the form list and the forms, keeps
drafts and relays submissions) is not run: the test's own code plays that part, with the
requests that server makes (the form list with ``formID``, the form, its manifest and media, a
HEAD for the size limit, then the multipart POST).
"""

from __future__ import annotations

import re
import uuid

import defusedxml.ElementTree as defused
import pytest
import requests
from kit import enketo
from openrosa_server.collect_kit import BOUNDARY, CONTENT_TYPE, FORMS_NS, OR_NS, make_device
from sqlalchemy import select

from sync.models import Submission
from sync.openrosa.households import NEW_LABEL
from sync.progress.verify import verify

MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"
HEADERS = {"X-OpenRosa-Version": "1.0", "User-Agent": "enketo-express (wardsync tests)"}


@pytest.fixture(scope="module")
def built():
    return enketo.build()


class EnketoExpress:
    """The server half of Enketo Express, for one OpenRosa device: what it fetches from the
    OpenRosa server for a form, and how it relays a submission."""

    def __init__(self, server_url: str):
        self.server_url = server_url

    def get(self, url: str, **params) -> requests.Response:
        answer = requests.get(url, params=params, headers=HEADERS, timeout=30)
        assert answer.status_code == 200, answer.text[:500]
        assert answer.headers["X-OpenRosa-Version"] == "1.0"
        return answer

    def form(self, form_id: str) -> tuple[str, dict[str, str]]:
        """The XForm and its media files (name -> text), found through the form list."""
        listed = defused.fromstring(self.get(self.server_url + "/formList", formID=form_id).content)
        [entry] = list(listed)
        assert entry.find(f"{FORMS_NS}formID").text == form_id
        xform = self.get(entry.find(f"{FORMS_NS}downloadUrl").text).content.decode()
        media = {}
        manifest = entry.find(f"{FORMS_NS}manifestUrl")
        if manifest is not None:
            for file in defused.fromstring(self.get(manifest.text).content):
                url = file.find(f"{MANIFEST_NS}downloadUrl").text
                media[file.find(f"{MANIFEST_NS}filename").text] = self.get(url).text
        return xform, media

    def submit(self, xml: str) -> tuple[int, str]:
        """HEAD (the size limit), then the instance as ``xml_submission_file``; the status and
        the OpenRosaResponse's message (what Enketo shows the volunteer)."""
        url = self.server_url + "/submission"
        head = requests.head(url, headers=HEADERS, timeout=30)
        assert head.status_code == 204
        assert int(head.headers["X-OpenRosa-Accept-Content-Length"]) >= len(xml.encode())
        body = (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
                f'filename="xml_submission_file"\r\nContent-Type: text/xml\r\n\r\n'
            ).encode()
            + xml.encode()
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
        answer = requests.post(
            url, data=body, headers={**HEADERS, "Content-Type": CONTENT_TYPE}, timeout=30
        )
        root = defused.fromstring(answer.content)
        return answer.status_code, "".join(root.find(f"{OR_NS}message").itertext())


class EnketoForm:
    """One form open in Enketo in ``page``, filled through its controls as a volunteer would."""

    def __init__(self, page, xform: str, media: dict[str, str], **data):
        self.page = page
        opened = page.evaluate(
            "args => window.openForm(args)", {"xform": xform, "media": media, **data}
        )
        assert opened["loadErrors"] == []
        # Vietnamese is the form's default language, English the second one.
        assert list(opened["languages"].values()) == ["vi", "en"]

    def choose(self, name: str, value: str) -> None:
        self.page.check(f'input[type=radio][name="/data/{name}"][value="{value}"]')

    def type(self, name: str, text: str) -> None:
        field = self.page.locator(f'[name="/data/{name}"]:not([type=hidden])').first
        field.fill(text)
        field.press("Tab")

    def pick(self, label: str) -> None:
        """The household, from the autocomplete list that the households file fills."""
        field = self.page.locator("input.widget.autocomplete")
        field.fill(label)
        field.press("Tab")

    def value(self, name: str) -> str:
        return self.page.input_value(f'[name="/data/{name}"]:not([type=hidden])')

    def shown(self, css: str) -> list[str]:
        return [t.strip() for t in self.page.locator(css).all_inner_texts() if t.strip()]

    def already_given(self) -> bool:
        """Whether the form shows its "this household already had this gift" note: Enketo
        marks a question that is not relevant ``disabled`` (its stylesheet, not loaded here,
        then hides it)."""
        return self.page.eval_on_selector(
            '[name="/data/collect/already_given"]',
            "el => !el.closest('.or-branch').classList.contains('disabled')",
        )

    def submit(self) -> str | None:
        """What Enketo's "Submit" does: validate every question, then write the instance (None
        when a question is invalid: Enketo then shows its message and sends nothing)."""
        done = self.page.evaluate("() => window.submitForm()")
        return done["xml"] if done["valid"] else None


def _rice_for_the_household(page, xform: str, media: dict[str, str]) -> EnketoForm:
    """The gift form with the Tết rice for the household at 12 Lê Lợi filled in."""
    form = EnketoForm(page, xform, media)
    form.choose("campaign", "camp")
    form.choose("org_unit", "W1")
    form.pick("12 Lê Lợi, tổ 3")
    form.type("gift_kind", "rice")
    form.type("round", "2023-tet")
    return form


def _instance_id(xml: str) -> str:
    root = defused.fromstring(xml.encode())
    return root.find("{*}meta/{*}instanceID").text


def _totals(client, world) -> dict[str, int]:
    body = client.get(
        "/api/v1/progress",
        query_string={"campaign": "camp", "org_unit": "W1"},
        headers=world.headers("admin"),
    ).get_json()
    return {k: v["value"] for k, v in body["totals"].items()}


def test_enketo_fills_every_form_and_its_submissions_count(
    built, page, client, world, live_server, session
):
    device = make_device(client, world)
    express = EnketoExpress(live_server.base + device.base)
    enketo.open_harness(page, built)

    # An activation. A 12-digit citizen id with one digit missing is refused by Enketo itself,
    # with the form's Vietnamese message, before anything is sent.
    xform, media = express.form("activation")
    form = EnketoForm(page, xform, media)
    form.choose("campaign", "camp")
    form.choose("org_unit", "W1")
    form.type("citizen_id", "07909301234")
    form.choose("status", "activated")
    form.pick(NEW_LABEL)
    form.type("household_address", "12 Lê Lợi, tổ 3")
    form.choose("phone_owner", "self")
    assert form.submit() is None
    assert "Phải gồm đúng 12 chữ số." in form.shown(".invalid-constraint .or-constraint-msg.active")
    form.type("citizen_id", "079093012345")
    activation = form.submit()
    assert activation is not None
    assert express.submit(activation) == (201, "Máy chủ đã nhận.")
    # Enketo Express resends a submission whose answer it lost: stored once.
    status, message = express.submit(activation)
    assert status == 201 and "trước đó" in message

    session.close()
    stored = session.get(Submission, _instance_id(activation).removeprefix("uuid:"))
    assert stored.device_id == device.device_id and stored.form == "activation"
    assert stored.data["status"] == "activated" and stored.data["phone_owner"] == "self"
    household = stored.data["household_id"]
    assert uuid.UUID(household)  # made by Enketo for the new household
    assert "079093012345" not in str(stored.data)  # kept hashed, as from every other path

    # Household help for that household, picked from the households file the manifest now
    # offers: picking it fills in its address (the form's setvalue action, run by Enketo).
    xform, media = express.form("household_help")
    assert "12 Lê Lợi, tổ 3" in media["households.csv"]
    form = EnketoForm(page, xform, media)
    form.choose("campaign", "camp")
    form.choose("org_unit", "W1")
    form.pick("12 Lê Lợi, tổ 3")
    assert form.value("household_address") == "12 Lê Lợi, tổ 3"
    form.choose("kind", "road_repair")
    form.type("quantity", "30")
    form.choose("unit", "m")
    form.type("volunteers", "3")
    form.type("hours", "4.5")
    help_xml = form.submit()
    assert help_xml is not None and express.submit(help_xml)[0] == 201

    # A gift, then the volunteer edits it in Enketo (a higher value): Enketo sends the edit
    # with meta/deprecatedID, and the edit replaces the gift rather than counting twice.
    xform, media = express.form("gift")
    form = _rice_for_the_household(page, xform, media)
    assert not form.already_given()  # the household has had no gift yet
    form.type("value_vnd", "300000")
    gift = form.submit()
    assert gift is not None and express.submit(gift) == (201, "Máy chủ đã nhận.")
    assert _totals(client, world)["gift_value_vnd"] == 300000

    form = EnketoForm(page, xform, media, instanceStr=gift, submitted=True)
    assert form.value("value_vnd") == "300000"
    form.type("value_vnd", "350000")
    edit = form.submit()
    assert edit is not None
    assert re.search(r"<deprecatedID>uuid:[0-9a-f-]{36}</deprecatedID>", edit)
    assert _instance_id(edit) != _instance_id(gift)
    assert express.submit(edit)[0] == 201

    # Offline, Enketo warns before a second gift of the same kind in the same round to that
    # household: the households file lists the gifts it has had.
    xform, media = express.form("gift")
    assert _rice_for_the_household(page, xform, media).already_given()

    got = _totals(client, world)
    assert (got["citizens_reached"], got["accounts_activated"]) == (1, 1)
    assert (got["gifts_delivered"], got["gift_value_vnd"]) == (1, 350000)
    assert (
        got["households_helped"] == 1 and got["volunteer_hours"] == 13.5
    )  # 3 volunteers for 4.5 h
    session.close()
    forms = sorted(s.form for s in session.scalars(select(Submission)))
    # The edit is stored as the new gift and a void of the one it replaces (PROTOCOL.md).
    assert forms == ["activation", "gift", "gift", "household_help", "void"]
    assert verify(session) == []
