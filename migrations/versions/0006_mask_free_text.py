"""mask long numbers (typed citizen ids) in free text stored before they were masked on input

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Since 0005's release, free text (notes, reasons, addresses, names) has a run of 12 or more
digits masked on input, as citizen ids are (``*********123``). This rewrites what was stored
before, in every table that keeps free text. The rule is copied here, not imported, so that
this migration keeps doing what it did whatever the code becomes. There is no way back: the
downgrade leaves the masked text as it is.
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LONG_NUMBER = re.compile(r"(?<!\d)\d(?:[ .\-]?\d){11,}(?!\d)")
FREE_TEXT_KEYS = {"note", "household_address", "donor", "reason", "address", "name"}
# A record's field keeps its value under "v"; a field conflict, the two values it saw.
VALUE_KEYS = {"v", "current", "incoming"}
BATCH = 1000


def mask(text):
    def one(match):
        digits = [c for c in match.group() if c.isdigit()]
        return "*" * (len(digits) - 3) + "".join(digits[-3:])

    return LONG_NUMBER.sub(one, text) if isinstance(text, str) else text


def mask_json(value, key=None, parent=None):
    """Strings under free-text keys, wherever they sit in the document (``{"note": ...}``,
    ``{"note": {"v": ...}}``), and nothing else: ids and codes stay as they are."""
    if isinstance(value, dict):
        return {k: mask_json(v, k, key) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(v, key, parent) for v in value]
    if isinstance(value, str) and (
        key in FREE_TEXT_KEYS or (key in VALUE_KEYS and parent in FREE_TEXT_KEYS)
    ):
        return mask(value)
    return value


def rewrite(table, key, column, masker, json_column):
    connection = op.get_bind()
    t = sa.table(table, sa.column(key), sa.column(column, sa.JSON() if json_column else sa.Text()))
    last = None
    while True:
        query = sa.select(t.c[key], t.c[column]).order_by(t.c[key]).limit(BATCH)
        if last is not None:
            query = query.where(t.c[key] > last)
        rows = connection.execute(query).all()
        if not rows:
            return
        for row_key, value in rows:
            masked = masker(value)
            if masked != value:
                connection.execute(sa.update(t).where(t.c[key] == row_key).values({column: masked}))
        last = rows[-1][0]


def upgrade() -> None:
    for table, column in [
        ("submissions", "data"),
        ("activation_records", "state"),
        ("review_items", "fields"),
        ("corrections", "fields"),
        ("audit_log", "details"),
    ]:
        rewrite(table, "id", column, mask_json, json_column=True)
    for table, column in [
        ("households", "address"),
        ("corrections", "reason"),
        ("devices", "name"),
        ("org_units", "name"),
        ("campaigns", "name"),
    ]:
        rewrite(table, "id", column, mask, json_column=False)


def downgrade() -> None:
    pass  # the numbers are gone; masked text stays masked
