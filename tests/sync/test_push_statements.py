"""The push path runs a fixed number of statements per batch, whatever its size."""

from __future__ import annotations

import uuid

from sqlalchemy import event

from sync.push.pipeline import push


def _batch(n: int, start: int) -> list[dict]:
    forms = []
    for i in range(start, start + n):
        household = str(uuid.UUID(int=start + i % max(2, n // 10) + 1))
        base = {
            "id": str(uuid.uuid4()),
            "form_version": 1,
            "campaign": "camp",
            "org_unit": "W1" if i % 2 else "W2",
            "recorded_at": "2023-07-29T09:00:00+07:00",
            "hlc": f"{1_690_600_000_000 + i}:0",
        }
        kind = i % 4
        if kind == 0:
            forms.append(
                {
                    **base,
                    "form": "activation",
                    "data": {
                        "citizen_id": f"{i:012d}",
                        "status": "installed",
                        "household_id": household,
                        "household_address": f"{i} Lê Lợi",
                    },
                }
            )
        elif kind == 1:
            forms.append(
                {
                    **base,
                    "form": "gift",
                    "data": {
                        "household_id": household,
                        "gift_kind": "pack",
                        "round": "r1",
                        "value_vnd": 100_000,
                    },
                }
            )
        elif kind == 2:
            forms.append(
                {
                    **base,
                    "form": "household_help",
                    "data": {"household_id": household, "kind": "cleanup", "hours": 2},
                }
            )
        else:
            forms.append(
                {**base, "form": "void", "data": {"target": forms[-1]["id"], "reason": "typo"}}
            )
    return forms


def _count_statements(engine, session, device, items, key) -> int:
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        push(session, device, items, citizen_key=key, now_ms=1_690_700_000_000)
        session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def test_statement_count_does_not_grow_with_the_batch(engine, session, field_setup, citizen_key):
    device = field_setup.devices[0]
    # Warm up (first-use queries of the ORM, e.g. relationship loads) so both runs compare alike.
    _count_statements(engine, session, device, _batch(8, 10_000), citizen_key)
    small = _count_statements(engine, session, device, _batch(10, 0), citizen_key)
    large = _count_statements(engine, session, device, _batch(500, 100), citizen_key)
    assert large == small, (small, large)
    assert small < 40


def test_an_identical_resend_is_answered_by_one_lookup(engine, session, field_setup, citizen_key):
    """A phone whose answer was lost sends the whole batch again: it is answered from the stored
    outcomes by one query, before validation and without taking a lock or writing anything."""
    device = field_setup.devices[0]
    items = _batch(200, 0)
    first = push(session, device, items, citizen_key=citizen_key, now_ms=1_690_700_000_000)
    session.commit()
    # A refused form is not stored, so its resend is judged again; the rest are stored.
    kept = [
        (item, r) for item, r in zip(items, first.results, strict=True) if r["status"] != "rejected"
    ]
    assert len(kept) > 100
    items = [item for item, _ in kept]
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith("BEGIN"):  # SQLite's write transaction, as for any POST
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        again = push(session, device, items, citizen_key=citizen_key, now_ms=1_690_700_060_000)
        session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1, [s[:80] for s in statements]
    assert "lock" not in statements[0].lower()
    for (_, before), after in zip(kept, again.results, strict=True):
        assert after["status"] == "duplicate"
        assert after["original_status"] == before["status"]
        assert after["id"] == before["id"]
