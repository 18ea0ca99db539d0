"""The schema comes only from migrations: one head, reversible, and matching the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from migrations import api as migrations_api
from sync.db import make_engine
from sync.models import Base


def test_single_head():
    assert len(migrations_api.heads()) == 1


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_downgrade_upgrade(db_url):
    engine = make_engine(db_url)
    try:
        migrations_api.downgrade(db_url, "base")
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        migrations_api.upgrade(db_url)
        with engine.connect() as conn:
            assert migrations_api.is_at_head(conn)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_free_text_stored_before_masking_is_masked_by_the_migration(db_url, phone, session):
    """Notes kept in clear by an older release are masked by migration 0006; ids are not."""
    import uuid

    from sqlalchemy import select, update

    from sync.models import ActivationRecord, Household, Submission

    household = "00000000-0000-4000-8000-123456789012"  # a uuid with a 12-digit run
    answer = phone.push(
        [
            {
                "id": str(uuid.uuid4()),
                "form": "activation",
                "form_version": 1,
                "campaign": "camp",
                "org_unit": "W1",
                "recorded_at": "2023-07-29T09:15:00+07:00",
                "data": {
                    "citizen_id": "079000000001",
                    "status": "visited",
                    "household_id": household,
                    "note": "x",
                },
            }
        ]
    ).get_json()["results"][0]
    raw = "cccd 001203004005"
    record = session.get(ActivationRecord, answer["record_id"])
    state = dict(record.state)
    state["fields"] = {**state["fields"], "note": {**state["fields"]["note"], "v": raw}}
    session.execute(
        update(ActivationRecord).where(ActivationRecord.id == record.id).values(state=state)
    )
    submission = session.get(Submission, answer["id"])
    session.execute(
        update(Submission)
        .where(Submission.id == submission.id)
        .values(data={**submission.data, "note": raw})
    )
    session.execute(update(Household).where(Household.id == household).values(address=raw))
    session.commit()

    migrations_api.downgrade(db_url, "0005")
    migrations_api.upgrade(db_url)

    masked = "cccd *********005"
    session.expire_all()
    record = session.get(ActivationRecord, answer["record_id"])
    assert record.state["fields"]["note"]["v"] == masked
    assert record.state["fields"]["household_id"]["v"] == household
    submission = session.get(Submission, answer["id"])
    assert submission.data["note"] == masked
    assert submission.data["household_id"] == household
    assert session.scalar(select(Household.address).where(Household.id == household)) == masked
    session.close()
