"""A push's reasons for refusing a form come in the language the phone asks for
(Accept-Language): the same paths and statuses, only the messages translated."""

from __future__ import annotations

import uuid

from formcases import limit_cases, with_value

from sync.forms import definitions

AT = "2023-07-29T09:15:00+07:00"


def envelope(form: str, data: dict, **overrides) -> dict:
    item = {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": AT,
        "data": data,
    }
    item.update(overrides)
    return item


def refused_items() -> list[dict]:
    items = [
        envelope(form, with_value(definitions.BY_KEY[(form, 1)], name, value))
        for form, name, _, value in limit_cases()
    ]
    gift = {"household_id": str(uuid.uuid4()), "gift_kind": "rice", "round": "r1"}
    items += [
        envelope("gift", gift, campaign="nope"),
        envelope("gift", gift, org_unit="W3"),  # outside the phone's ward
        envelope("gift", gift, org_unit="NOPE"),
        envelope("gift", gift, form_version=9),
        envelope("gift", {**gift, "colour": "red"}),
    ]
    return items


def push(phone, items, language):
    headers = {**phone.headers, **({"Accept-Language": language} if language else {})}
    answer = phone.client.post("/api/v1/sync/push", json={"submissions": items}, headers=headers)
    assert answer.status_code == 200
    return answer.get_json()["results"]


def test_every_reason_a_form_is_refused_for_comes_in_vietnamese(phone):
    items = refused_items()
    english, vietnamese = [], []
    for start in range(0, len(items), 250):
        english += push(phone, items[start : start + 250], None)
        vietnamese += push(phone, items[start : start + 250], "vi-VN,vi;q=0.9,en;q=0.5")
    untranslated = set()
    for en, vi in zip(english, vietnamese, strict=True):
        assert en["status"] == vi["status"] == "rejected"
        assert list(en["errors"]) == list(vi["errors"])  # the same fields at fault
        for path, messages in en["errors"].items():
            for message, translated in zip(messages, vi["errors"][path], strict=True):
                if message == translated:
                    untranslated.add(message)
    assert untranslated == set()
    reasons = {m for r in vietnamese for msgs in r["errors"].values() for m in msgs}
    assert "Phải gồm đúng 12 chữ số." in reasons
    assert "Phải từ 1 đến 1000000." in reasons
    assert "Ngoài phạm vi phường/xã của điện thoại này." in reasons


def test_english_stays_the_default_and_can_be_asked_for(phone):
    item = envelope("activation", {"citizen_id": "123", "status": "visited"})
    for language in (None, "en", "fr"):
        result = push(phone, [dict(item, id=str(uuid.uuid4()))], language)[0]
        assert result["errors"] == {"data.citizen_id": ["Must be 12 digits."]}, language
