"""Stored submissions for the growth measurement (``bench.ingest --preload N``).

A loader device first pushes two batches of the bench's mix through the real server, so the
rows written here are copies of what the push path itself stored (its ``data``, ``result``,
merged record ``state``, household fields, in the database's own text form), not
hand-written look-alikes. ``load`` then writes ``N`` submissions spread over the campaign's
wards with fresh, realistic keys: random uuid4 submission and household ids, 64-hex citizen
and content hashes, gift business keys ``household|kind|round``, voids naming earlier events.
With them go the rows the push path reads and writes beside the submissions: one activation
record per distinct citizen (30 % of activations are later visits to a stored record), a
household per ~3 forms, and one feed row per record and household. A record keeps its
template's merged ``state`` (its clocks and origin name the template's submission); its keys
and ward are its own. Counters are left alone: their size is bounded by units × metrics ×
days × shards, not by the submissions.

The indexes stay in place while loading (they grow as they would in production). On
PostgreSQL the rows go in through ``COPY`` in the text format, with the foreign-key triggers
off for the loading transactions (``session_replication_role = replica``; every key is valid
by construction); on SQLite through ``executemany``. Feed positions come from a block reserved
from the feed's own sequence, so later pushes sort after the loaded rows. Call ``analyze``
afterwards.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from sync.models import ActivationRecord, FeedEntry, Household, Submission

CHUNK = 50_000
FORMS = ("activation", "household_help", "gift", "void")
COLUMNS = {
    "activation_records": [c.name for c in ActivationRecord.__table__.columns],
    "households": [c.name for c in Household.__table__.columns],
    "submissions": [c.name for c in Submission.__table__.columns],
    "feed": [c.name for c in FeedEntry.__table__.columns],
}
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SLOT = re.compile(r"@@(\w+)@@")


class Template:
    """A stored row as the database's text, with slots (``@@name@@``) for what varies."""

    def __init__(self, cells: list, slots: dict[str, str], columns: dict[str, str]):
        cells = list(cells)
        for i, cell in enumerate(cells):
            if isinstance(cell, str):
                for value, slot in slots.items():
                    cell = cell.replace(value, f"@@{slot}@@")
                cells[i] = cell
        self.cells = cells
        for index, slot in columns.items():
            self.cells[index] = f"@@{slot}@@"
        self.dynamic = [
            (i, _SLOT.split(c))
            for i, c in enumerate(self.cells)
            if isinstance(c, str) and "@@" in c
        ]

    def fill(self, values: dict) -> list:
        cells = list(self.cells)
        for i, parts in self.dynamic:
            cells[i] = "".join(values[p] if j % 2 else p for j, p in enumerate(parts))
        return cells


def _raw_rows(engine, table: str, where: str) -> list[list]:
    """Rows as the database stores them: PostgreSQL's COPY text cells, SQLite's values."""
    columns = ", ".join(f'"{c}"' for c in COLUMNS[table])
    query = f'SELECT {columns} FROM "{table}" WHERE {where}'
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
                data = b"".join(bytes(block) for block in copy).decode()
            return [line.split("\t") for line in data.splitlines()]
        return [list(row) for row in cursor.execute(query).fetchall()]
    finally:
        raw.close()


def templates(engine, device_id: str) -> dict:
    """The rows the push path stored for ``device_id``'s pushes, with slots for their keys."""
    names = COLUMNS["submissions"]
    col = {n: i for i, n in enumerate(names)}
    if not re.fullmatch(r"\w+", device_id):
        raise SystemExit(f"preload: unexpected device id {device_id!r}")
    rows = _raw_rows(engine, "submissions", f"device_id = '{device_id}'")
    if not rows:
        raise SystemExit("preload: the template push stored nothing")
    campaign_id = rows[0][col["campaign_id"]]
    submissions: dict[str, list[Template]] = {form: [] for form in FORMS}
    for row in rows:
        data = row[col["data"]]
        slots = {row[col["id"]]: "id"}
        household = re.search(f'"household_id": "({_UUID})"', data)
        if household:
            slots[household.group(1)] = "hid"
        target = re.search(f'"target": "({_UUID})"', data)
        if target:
            slots[target.group(1)] = "target"
        fixed = {col[n]: n for n in ("xid", "seq", "org_unit_id", "content_hash", "voided")}
        if row[col["record_id"]] not in (None, "\\N"):
            fixed[col["record_id"]] = "rid"
            row[col["result"]] = re.sub(
                r'"record_id": \d+', '"record_id": @@rid@@', row[col["result"]]
            )
        submissions[row[col["form"]]].append(Template(row, slots, fixed))
    missing = [form for form, found in submissions.items() if not found]
    if missing:
        raise SystemExit(f"preload: the template push stored no {missing}")
    rcol = {n: i for i, n in enumerate(COLUMNS["activation_records"])}
    records = [
        Template(
            r,
            {r[rcol["citizen_hash"]]: "citizen_hash"},
            {rcol["id"]: "rid", rcol["org_unit_id"]: "org_unit_id"},
        )  # fmt: skip
        for r in _raw_rows(engine, "activation_records", f"campaign_id = {int(campaign_id)}")
    ]
    hcol = {n: i for i, n in enumerate(COLUMNS["households"])}
    households = [
        Template(h, {h[hcol["id"]]: "hid"}, {hcol["org_unit_id"]: "org_unit_id"})
        for h in _raw_rows(engine, "households", "1 = 1")
    ]
    return {
        "campaign_id": campaign_id,
        "submissions": submissions,
        "records": records,
        "households": households,
        "wards": _wards(engine),
    }


def _wards(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:  # the bench's wards (bench.common.seed: W0, W1, ...)
        found = conn.execute(text("SELECT id, path FROM org_units WHERE code LIKE 'W%'")).all()
    return [(str(i), path) for i, path in found]


def _hex(rnd: random.Random, bits: int) -> str:
    return f"{rnd.getrandbits(bits):0{bits // 4}x}"


def _uuid4(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def load(engine, count: int, found: dict, seed: int = 5) -> dict:
    """Write ``count`` submissions with their records, households and feed rows."""
    rnd = random.Random(seed)
    with engine.connect() as conn:
        next_record = conn.execute(text("SELECT max(id) FROM activation_records")).scalar() + 1
    first_seq = _reserve_positions(engine, count * 3)  # submissions, records, households
    state = {"seq": first_seq, "record": next_record, "first": next_record, "households": []}
    events: deque[str] = deque(maxlen=10_000)
    postgres = engine.dialect.name == "postgresql"
    started = time.perf_counter()
    written = dict.fromkeys(COLUMNS, 0)
    waited = 0.0  # for the database, with the next chunk made: the database bounds the load
    with ThreadPoolExecutor(1) as writer:  # the next chunk is made while one is written
        pending = None
        for start in range(0, count, CHUNK):
            chunk = _chunk(min(CHUNK, count - start), rnd, found, state, events, postgres)
            before = time.perf_counter()
            if pending is not None:
                pending.result()
            waited += time.perf_counter() - before
            pending = writer.submit(_write, engine, chunk)
            for table, rows in chunk.items():
                written[table] += len(rows)
            if start // CHUNK % 20 == 19:
                print(f"  preload: {start + CHUNK:,} of {count:,} submissions", flush=True)
        before = time.perf_counter()
        if pending is not None:
            pending.result()
        waited += time.perf_counter() - before
    written["waited"] = waited
    if postgres:  # the record ids above were given, not drawn from the sequence
        with engine.begin() as conn:
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('activation_records', 'id'), "
                    "(SELECT max(id) FROM activation_records))"
                )
            )
    written["seconds"] = time.perf_counter() - started
    return written


def _chunk(n, rnd, found, state, events, postgres) -> dict:
    out: dict[str, list] = {name: [] for name in COLUMNS}
    subs, households = found["submissions"], state["households"]
    false = "f" if postgres else "0"

    def position() -> str:
        state["seq"] += 1
        return str(state["seq"] - 1)

    def feed(entity: str, key: str, path: str) -> None:
        out["feed"].append([entity, key, "0", position(), path, false])

    for _ in range(n):
        ward, path = rnd.choice(found["wards"])
        roll = rnd.random()
        form = "activation" if roll < 0.6 else "household_help" if roll < 0.8 else "gift"
        if roll >= 0.95 and events:
            form = "void"
        sid = _uuid4(rnd)
        values = {"id": sid, "xid": "0", "seq": position(), "org_unit_id": ward,
                  "content_hash": _hex(rnd, 256), "voided": false}  # fmt: skip
        if form != "void":
            if households and rnd.random() > 0.35:  # a household seen before
                values["hid"] = rnd.choice(households)
            else:
                values["hid"] = hid = _uuid4(rnd)
                households.append(hid)
                out["households"].append(rnd.choice(found["households"]).fill(values))
                feed("household", hid, path)
        if form == "activation":
            if state["record"] > state["first"] and rnd.random() < 0.3:  # a later visit
                values["rid"] = str(rnd.randrange(state["first"], state["record"]))
            else:
                values["rid"] = str(state["record"])
                state["record"] += 1
                values["citizen_hash"] = _hex(rnd, 256)
                out["activation_records"].append(rnd.choice(found["records"]).fill(values))
                feed("activation", values["rid"], path)
        elif form == "void":
            values["target"] = rnd.choice(events)
        else:
            events.append(sid)
        out["submissions"].append(rnd.choice(subs[form]).fill(values))
    return out


def _write(engine, chunk: dict) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("BEGIN")  # the engine's connections autocommit otherwise
        for table, rows in chunk.items():  # records before the submissions naming them
            if not rows:
                continue
            columns = ", ".join(f'"{c}"' for c in COLUMNS[table])
            if postgres:
                with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
                    copy.write("".join("\t".join(row) + "\n" for row in rows))
            else:
                marks = ", ".join("?" for _ in COLUMNS[table])
                cursor.executemany(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', rows)
        raw.commit()
    finally:
        raw.close()


def _reserve_positions(engine, count: int) -> int:
    """The first of ``count`` feed sequence numbers no push will take."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            last = conn.execute(
                text("SELECT setval('feed_seq', nextval('feed_seq') + :n)"), {"n": count}
            ).scalar()
            return last - count
        last = conn.execute(
            text("UPDATE feed_clock SET seq = seq + :n WHERE id = 1 RETURNING seq"), {"n": count}
        ).scalar()
        return last - count + 1


def analyze(engine) -> float:
    """``ANALYZE`` the whole database, as autovacuum would have (it is off on this machine)."""
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started
