"""CSV exports written by PostgreSQL itself (``COPY … TO STDOUT``), byte for byte the CSV that
``exports.csv_lines`` writes from ``exports.submissions``.

Python spends about 14 µs on each exported row; PostgreSQL's COPY writes the same row in
about 4. So on PostgreSQL the database formats every value as the Python writer would —
timestamps as ``isoformat()``, booleans as ``True``/``False``, an empty value as nothing — and
only the line ends are changed here, to the CRLF of RFC 4180 that the Python writer uses.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import String, case, cast, column, func, literal
from sqlalchemy.orm import Session

from sync.accounts.scope import Scope
from sync.exports.submissions import DATA_COLUMNS, rows_query
from sync.models import Campaign, OrgUnit, Submission

CHUNK = 1 << 16


def _iso_utc(column):
    """``datetime.isoformat()`` of a UTC timestamp: microseconds only when there are some."""
    utc = func.timezone("UTC", column)
    micro = func.to_char(utc, "US")
    return func.concat(
        func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS'),
        case((micro != "000000", func.concat(".", micro)), else_=""),
        "+00:00",
    )


def _text(expression):
    # COPY quotes an empty string to tell it from NULL; the Python writer writes both as
    # nothing. The exported values are never meaningfully empty, so empty is written as NULL.
    return func.nullif(expression, "")


def copy_csv(
    session: Session,
    campaign: Campaign,
    scope: Scope,
    unit: OrgUnit | None,
    form: str,
    after: int,
    last: int,
) -> Iterator[bytes]:
    """The rows of ``exports.csv_lines`` (without the header), in pieces of about 64 KiB."""
    # The form's fields as text, the JSON parsed once per row (``->>`` parses it per field).
    fields = (
        func.json_to_record(Submission.data)
        .table_valued(*(column(key, String) for key in DATA_COLUMNS[form]))
        .render_derived(name="fields", with_types=True)
    )
    columns = (
        Submission.id,
        Submission.seq,
        literal(campaign.code, String),
        OrgUnit.code,
        Submission.form,
        _iso_utc(Submission.recorded_at),
        cast(Submission.day, String),
        Submission.device_id,
        _text(Submission.result["status"].as_string()),
        case((Submission.voided, "True"), else_="False"),
        Submission.double_decision,
        *(_text(fields.c[key]) for key in DATA_COLUMNS[form]),
    )
    query = rows_query(columns, campaign, scope, unit, form, after, last)
    compiled = query.compile(dialect=session.get_bind().dialect)
    statement = f"COPY ({compiled}) TO STDOUT (FORMAT csv)"
    cursor = session.connection().connection.dbapi_connection.cursor()
    try:
        with cursor.copy(statement, compiled.params) as copy:
            pending, size, outside = [], 0, True
            for data in copy:
                pending.append(data)
                size += len(data)
                if size >= CHUNK:
                    chunk, outside = crlf(b"".join(pending), outside)
                    yield chunk
                    pending, size = [], 0
            if pending:
                yield crlf(b"".join(pending), outside)[0]
    finally:
        cursor.close()


def crlf(chunk: bytes, outside: bool) -> tuple[bytes, bool]:
    """Turn the line ends between records into CRLF, leaving newlines inside quoted values.

    ``outside`` says whether the chunk starts outside quotes; in CSV a quote inside a value is
    doubled, so the count of quotes so far tells inside from outside. Returns the new chunk
    and whether it ends outside quotes."""
    if b'"' not in chunk:
        return (chunk.replace(b"\n", b"\r\n") if outside else chunk), outside
    parts = chunk.split(b'"')
    for i in range(0 if outside else 1, len(parts), 2):
        parts[i] = parts[i].replace(b"\n", b"\r\n")
    return b'"'.join(parts), outside == (len(parts) % 2 == 1)
