"""Writing many rows in one round trip, without the ORM: the push path's inserts and updates.

On PostgreSQL, rows go in with ``COPY … FROM STDIN`` (ids for a serial key taken first from
its sequence, in one query), and changed rows are written with one ``UPDATE … FROM (VALUES
…)``. That saves the per-row statement handling an ``executemany`` costs the client, which a
profile of a 500-item push showed to be a fifth of its time. SQLite gets plain
``executemany`` statements, which are cheap there (no network, one writer).

Values pass through each column's own bind processing, so what is stored is exactly what the
ORM would store (UTC timestamps, JSON text).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Table, and_, bindparam, insert, or_, text, update
from sqlalchemy.orm import Session

from sync.db import is_postgres

_SEQUENCES: dict[str, str] = {}


def new_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` fresh values of ``table``'s serial key (PostgreSQL), in one query. The
    sequence's name is looked up once (asking for it on every row cost more than the ids)."""
    if table.name not in _SEQUENCES:
        _SEQUENCES[table.name] = session.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": table.autoincrement_column.name},
        ).scalar_one()
    return list(
        session.execute(
            text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"),
            {"sequence": _SEQUENCES[table.name], "n": count},
        ).scalars()
    )


def insert_with_ids(
    session: Session, table: Table, rows: Sequence[dict], key: tuple[str, ...]
) -> list[int]:
    """Insert ``rows`` into a table with a serial id; returns their ids in row order.

    ``key``: columns that tell the rows apart, to match the ids SQLite returns (unordered).
    """
    if not rows:
        return []
    generated = table.autoincrement_column.name
    if is_postgres(session):
        ids = new_ids(session, table, len(rows))
        insert_rows(
            session, table, [{generated: i, **row} for i, row in zip(ids, rows, strict=True)]
        )
        return ids
    statement = insert(table).returning(table.c[generated], *(table.c[k] for k in key))
    found = {tuple(values): new_id for new_id, *values in session.execute(statement, list(rows))}
    return [found[tuple(row[k] for k in key)] for row in rows]


def insert_rows(session: Session, table: Table, rows: Sequence[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``."""
    if not rows:
        return
    if not is_postgres(session):
        session.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    dialect = session.get_bind().dialect
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    statement = f"COPY {_quoted(table.name)} ({_names(names)}) FROM STDIN"
    cursor = session.connection().connection.dbapi_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        value if proc is None or value is None else proc(value)
                        for value, proc in zip((row[n] for n in names), processors, strict=True)
                    ]
                )
    finally:
        cursor.close()


def update_rows(session: Session, table: Table, key: str, rows: Sequence[dict]) -> None:
    """Set the given columns of each row found by ``key``: one statement on PostgreSQL."""
    if not rows:
        return
    names = [n for n in rows[0] if n != key]
    if not is_postgres(session):
        statement = (
            update(table)
            .where(table.c[key] == bindparam("_key"))
            .values({n: bindparam(f"_{n}") for n in names})
        )
        session.execute(
            statement, [{"_key": r[key], **{f"_{n}": r[n] for n in names}} for r in rows]
        )
        return
    dialect = session.get_bind().dialect
    columns = [key, *names]
    values, params = [], {}
    for i, row in enumerate(rows):
        slots = []
        for name in columns:
            column = table.c[name]
            proc = column.type._cached_bind_processor(dialect)
            value = row[name]
            params[f"p{i}_{name}"] = value if proc is None or value is None else proc(value)
            slots.append(f"CAST(:p{i}_{name} AS {column.type.compile(dialect)})")
        values.append(f"({', '.join(slots)})")
    assignments = ", ".join(f"{_quoted(n)} = v.{_quoted(n)}" for n in names)
    statement = (  # names are the table's own columns; every value is a bound parameter
        f"UPDATE {_quoted(table.name)} AS t SET {assignments} "  # noqa: S608
        f"FROM (VALUES {', '.join(values)}) AS v({_names(columns)}) "
        f"WHERE t.{_quoted(key)} = v.{_quoted(key)}"
    )
    session.execute(text(statement), params)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _names(names) -> str:
    return ", ".join(_quoted(n) for n in names)


def insert_objects(session: Session, objects: list, key: tuple[str, ...] = ()) -> None:
    """Insert new (unattached) model objects in one statement, filling in generated ids.

    The ORM's unit of work would send one INSERT per object; ``sync.store.bulk`` writes them all at
    once. ``key``: attributes that tell the new objects apart (to match ids on SQLite).
    """
    if not objects:
        return
    table = objects[0].__table__
    generated = table.autoincrement_column
    rows = []
    for obj in objects:
        row = {}
        for column in table.columns:
            if column is generated:
                continue
            value = getattr(obj, column.key)
            if value is None and column.default is not None and column.default.is_scalar:
                value = column.default.arg
            elif value is None and column.default is not None and column.default.is_callable:
                value = column.default.arg(None)
            row[column.key] = value
        rows.append(row)
    if generated is None:
        insert_rows(session, table, rows)
        return
    for obj, new_id in zip(objects, insert_with_ids(session, table, rows, key), strict=True):
        setattr(obj, generated.key, new_id)


def pairs_in(campaign_column, key_column, pairs):
    """``(campaign, key) IN pairs`` as ``campaign = c AND key IN (...)`` per campaign.

    PostgreSQL plans a row-value IN list poorly (often a sequential scan); this form uses the
    composite index. A batch almost always holds one campaign.
    """
    by_campaign: dict[int, list[str]] = defaultdict(list)
    for campaign_id, key in sorted(pairs):
        by_campaign[campaign_id].append(key)
    return or_(
        *(and_(campaign_column == c, key_column.in_(keys)) for c, keys in by_campaign.items())
    )
