"""The phone's local store: the outbox of forms waiting to be sent, what was pulled, and the
device's credentials — one SQLite file, so a form is either queued or not, whatever moment
the phone dies at.

Every change is one transaction (WAL, ``synchronous=FULL``): recording a form, applying the
server's answer to a batch, storing a pulled page with its cursor. A form leaves the outbox
only in the transaction that records the server's final answer for it, so a crash between the
server's commit and that transaction only means the form is sent again — and the server answers
``duplicate``. Rejected forms stay, with the server's errors, for the volunteer to see.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import clock

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    form TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'rejected')),
    errors TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, seq);
CREATE TABLE IF NOT EXISTS sent (
    id TEXT PRIMARY KEY,
    form TEXT NOT NULL,
    status TEXT NOT NULL,
    record_id TEXT,
    record_version INTEGER,
    conflict_id TEXT,
    flags TEXT NOT NULL,
    synced_at TEXT NOT NULL,
    body TEXT
);
CREATE TABLE IF NOT EXISTS pulled (
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER,
    data TEXT NOT NULL,
    PRIMARY KEY (entity, id)
);
"""

# The server's final answers: the form is stored there (``duplicate`` carries the first one).
STORED = {"applied", "conflict"}
# How long a sent form's content is kept, to resend it should the server lose it (restored
# from a backup older than the form): a few days covers a nightly backup and a weekend. After
# that only the form's receipt is kept; the content (a citizen id among it) is dropped.
KEEP_SENT_DAYS = 7


@dataclass(frozen=True)
class Queued:
    seq: int
    id: str
    body: dict


@dataclass(frozen=True)
class Rejected:
    id: str
    form: str
    recorded_at: str
    errors: dict


class DeviceStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # It holds refresh tokens and, until they are sent, citizen ids: owner only (SQLite
        # gives its -wal and -shm files the same mode).
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(sent)")}
        if "body" not in columns:  # a store made before sent forms were kept
            self.db.execute("ALTER TABLE sent ADD COLUMN body TEXT")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- device and credentials ----------------------------------------------------------

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def _put(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def set(self, **values: str) -> None:
        with self.transaction():
            for key, value in values.items():
                self._put(key, value)

    @property
    def device_id(self) -> str | None:
        return self.get("device_id")

    # -- recording -----------------------------------------------------------------------

    def record(
        self,
        form: str,
        campaign: str,
        org_unit: str,
        data: dict,
        *,
        recorded_at: datetime | None = None,
        base_version: int | None = None,
        submission_id: str | None = None,
    ) -> str:
        """Queue one form; returns its id, the server's idempotency key."""
        device = self.device_id
        if device is None:
            raise RuntimeError("this device is not enrolled")
        when = recorded_at or datetime.now().astimezone()
        if when.tzinfo is None:
            raise ValueError("recorded_at needs a time zone offset")
        sid = submission_id or str(uuid.uuid4())
        with self.transaction():
            stamp = clock.tick(self._clock(), int(when.timestamp() * 1000))
            self._put("hlc", clock.render(stamp, device))
            body = {
                "id": sid,
                "form": form,
                "form_version": 1,
                "campaign": campaign,
                "org_unit": org_unit,
                "recorded_at": when.isoformat(),
                "hlc": clock.render(stamp, device),
                "data": data,
            }
            if base_version:
                body["base_version"] = base_version
            self.db.execute(
                "INSERT INTO outbox (id, form, body, state, recorded_at) "
                "VALUES (?, ?, ?, 'queued', ?)",
                (sid, form, json.dumps(body, ensure_ascii=False), body["recorded_at"]),
            )
        return sid

    def _clock(self) -> tuple[int, int]:
        last = self.get("hlc")
        return clock.parse(last) if last else (0, 0)

    def observe_server_clock(self, server_hlc: str | None) -> None:
        if not server_hlc:
            return
        with self.transaction():
            merged = clock.observe(self._clock(), clock.parse(server_hlc))
            self._put("hlc", clock.render(merged, self.device_id or ""))

    # -- pushing -------------------------------------------------------------------------

    def queued_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM outbox WHERE state = 'queued'").fetchone()[0]

    def next_batch(self, size: int, max_bytes: int) -> list[Queued]:
        """The oldest queued forms, at most ``size`` of them and about ``max_bytes`` of JSON."""
        rows = self.db.execute(
            "SELECT seq, id, body FROM outbox WHERE state = 'queued' ORDER BY seq LIMIT ?",
            (size,),
        ).fetchall()
        batch, total = [], 0
        for seq, sid, body in rows:
            total += len(body.encode()) + 2
            if batch and total > max_bytes:
                break
            batch.append(Queued(seq, sid, json.loads(body)))
        return batch

    def settle(self, batch: list[Queued], results: list[dict], synced_at: str) -> None:
        """Apply the server's answers to a batch in one transaction: stored and duplicate
        forms leave the outbox (logged in ``sent``), rejected ones stay with their errors."""
        with self.transaction():
            for item, result in zip(batch, results, strict=True):
                status = result["status"]
                if status == "rejected":
                    self.db.execute(
                        "UPDATE outbox SET state = 'rejected', errors = ? WHERE id = ?",
                        (json.dumps(_errors(result), ensure_ascii=False), item.id),
                    )
                    continue
                if status == "duplicate":
                    status = result.get("original_status") or "duplicate"
                self.db.execute(
                    "INSERT INTO sent (id, form, status, record_id, record_version, conflict_id,"
                    " flags, synced_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (id) DO NOTHING",
                    (
                        item.id,
                        item.body["form"],
                        status,
                        result.get("record_id"),
                        result.get("record_version"),
                        result.get("conflict_id"),
                        json.dumps(result.get("flags") or []),
                        synced_at,
                        json.dumps(item.body, ensure_ascii=False),
                    ),
                )
                self.db.execute("DELETE FROM outbox WHERE id = ?", (item.id,))

    def reject_locally(self, item: Queued, errors: dict) -> None:
        """A form the server refuses to even read (say, too large): keep it for the volunteer."""
        with self.transaction():
            self.db.execute(
                "UPDATE outbox SET state = 'rejected', errors = ? WHERE id = ?",
                (json.dumps(errors, ensure_ascii=False), item.id),
            )

    def rejected(self) -> list[Rejected]:
        rows = self.db.execute(
            "SELECT id, form, recorded_at, errors FROM outbox WHERE state = 'rejected' ORDER BY seq"
        ).fetchall()
        return [
            Rejected(sid, form, at, json.loads(errors or "{}")) for sid, form, at, errors in rows
        ]

    def discard(self, submission_id: str) -> bool:
        """Drop a rejected form the volunteer has given up on (queued ones are never dropped)."""
        with self.transaction():
            cursor = self.db.execute(
                "DELETE FROM outbox WHERE id = ? AND state = 'rejected'", (submission_id,)
            )
        return cursor.rowcount == 1

    def sent_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, count(*) FROM sent GROUP BY status").fetchall()
        return dict(rows)

    def sent_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT id FROM sent")}

    def requeue_if_short(self, accepted: int, now: datetime | None = None) -> int:
        """Queue the kept sent forms again when the server holds fewer of ours than we sent.

        The server answered for each of them, so it only loses one by being restored from a
        backup taken before it arrived; resending is harmless (the forms it still has answer
        ``duplicate``). A shortfall that resending does not close (our form was a duplicate
        of another phone's, so it is stored under that phone) is not chased again: the same
        figures requeue nothing. Kept content older than ``KEEP_SENT_DAYS`` is dropped here.
        Returns how many forms were queued again.
        """
        now = now or datetime.now(UTC)
        cutoff = (now - timedelta(days=KEEP_SENT_DAYS)).isoformat()
        with self.transaction():
            self.db.execute("UPDATE sent SET body = NULL WHERE synced_at < ?", (cutoff,))
            sent = self.db.execute("SELECT count(*) FROM sent").fetchone()[0]
            figures = f"{accepted}/{sent}"
            if accepted >= sent or self.get("requeued_for") == figures:
                return 0
            self._put("requeued_for", figures)
            rows = self.db.execute(
                "SELECT id, form, body FROM sent WHERE body IS NOT NULL ORDER BY rowid"  # as sent
            ).fetchall()
            for sid, form, body in rows:
                recorded_at = json.loads(body).get("recorded_at", "")
                self.db.execute(
                    "INSERT INTO outbox (id, form, body, state, recorded_at)"
                    " VALUES (?, ?, ?, 'queued', ?) ON CONFLICT (id) DO NOTHING",
                    (sid, form, body, recorded_at),
                )
                self.db.execute("DELETE FROM sent WHERE id = ?", (sid,))
        return len(rows)

    # -- pulling -------------------------------------------------------------------------

    @property
    def cursor(self) -> str | None:
        return self.get("pull_cursor")

    def store_page(self, page: dict, *, reset: bool = False) -> None:
        """One pulled page and the cursor after it, together: a crash leaves both or neither."""
        with self.transaction():
            if reset or page.get("reset"):
                self.db.execute("DELETE FROM pulled")
            for change in page["changes"]:
                key = (change["entity"], str(change["id"]))
                if change["op"] == "delete":
                    self.db.execute("DELETE FROM pulled WHERE entity = ? AND id = ?", key)
                    continue
                self.db.execute(
                    "INSERT INTO pulled (entity, id, version, data) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (entity, id) DO UPDATE SET version = excluded.version, "
                    "data = excluded.data",
                    (*key, change.get("version"), json.dumps(change.get("data") or {})),
                )
            self._put("pull_cursor", page["next_cursor"])

    def forget_pulled(self) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM pulled")
            self.db.execute("DELETE FROM meta WHERE key = 'pull_cursor'")

    def pulled(self, entity: str) -> dict[str, dict]:
        rows = self.db.execute(
            "SELECT id, version, data FROM pulled WHERE entity = ?", (entity,)
        ).fetchall()
        return {rid: {"version": version, **json.loads(data)} for rid, version, data in rows}

    def pulled_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT entity, count(*) FROM pulled GROUP BY entity").fetchall()
        return dict(rows)

    def record_version(self, record_id: str) -> int | None:
        """The version of an activation record this phone last saw: its ``base_version``."""
        row = self.db.execute(
            "SELECT version FROM pulled WHERE entity = 'activation' AND id = ?", (record_id,)
        ).fetchone()
        return row[0] if row else None


def _errors(result: dict) -> dict:
    errors = result.get("errors")
    return errors if isinstance(errors, dict) and errors else {"": ["rejected by the server"]}
