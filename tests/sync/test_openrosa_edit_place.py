"""An edit from Collect that moves a gift to another ward: the void of the old gift is filed
where the old gift lies, so the push path takes it, and a resend sends the same void."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from sync.models import OrgUnit, Submission
from sync.openrosa.edits import void_place
from sync.openrosa.instances import Instance, push_items
from sync.progress import verify
from sync.push.pipeline import push


def _gift(instance_id: str, ward: str, replaces: str | None = None) -> Instance:
    return Instance(
        form="gift",
        form_version=1,
        instance_id=instance_id,
        deprecated_id=replaces,
        campaign="camp",
        org_unit=ward,
        recorded_at="2023-07-29T09:00:00+07:00",
        data={
            "household_id": "5b1f2c9e-0a7d-4c53-9f0e-2f4d7e1a9b10",
            "gift_kind": "rice",
            "round": "2023-tet",
            "value_vnd": 500000,
        },
    )


def _send(session, device, citizen_key, instance: Instance) -> list[dict]:
    items = push_items(instance, void_place(session, instance))
    results = push(session, device, items, citizen_key=citizen_key).results
    session.commit()
    return results


def _gifts_in(session, ward: str) -> int:
    """Gifts standing (not voided) in ``ward``."""
    ward_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == ward))
    return session.scalar(
        select(func.count())
        .select_from(Submission)
        .where(Submission.form == "gift", Submission.org_unit_id == ward_id)
        .where(Submission.voided.is_(False))
    )


def test_an_edit_into_another_ward_voids_the_old_gift_where_it_lies(
    session, field_setup, citizen_key
):
    device = field_setup.devices[0]
    first = str(uuid.uuid4())
    assert [r["status"] for r in _send(session, device, citizen_key, _gift(first, "W1"))] == [
        "applied"
    ]
    edit = _gift(str(uuid.uuid4()), "W2", replaces=first)
    assert void_place(session, edit) == ("camp", "W1")  # the target's place
    answers = _send(session, device, citizen_key, edit)
    assert [r["status"] for r in answers] == ["applied", "applied"]
    assert _gifts_in(session, "W1") == 0
    assert _gifts_in(session, "W2") == 1
    # The resend sends the very same void: answered duplicate, nothing changes.
    again = _send(session, device, citizen_key, edit)
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert verify.verify(session) == []


def test_no_place_for_a_first_receipt_or_an_activation(session, field_setup):
    assert void_place(session, _gift(str(uuid.uuid4()), "W1")) is None
    unknown = _gift(str(uuid.uuid4()), "W1", replaces=str(uuid.uuid4()))
    assert void_place(session, unknown) is None  # the target has not arrived: the void waits
    visit = Instance("activation", 1, str(uuid.uuid4()), str(uuid.uuid4()), "camp", "W1", None)
    assert void_place(session, visit) is None
