"""Sync a phone's store with the server: push the outbox in batches, then pull what changed.

Pushing is safe to repeat at any point: the server keeps each submission id once and answers a
resend with ``duplicate``, so a lost response or a crash mid-sync costs only a resend. Pulling
stores each page together with the cursor after it, so a sync cut short resumes where it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .api import ApiError, Connection, Tokens
from .outbox import DeviceStore

BATCH_SIZE = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024  # the server takes 5 MiB; leave room for the envelope


class ProtocolError(Exception):
    """The server's answer does not match the batch sent: nothing is settled from it."""


@dataclass
class SyncReport:
    sent: Counter = field(default_factory=Counter)  # final status -> forms
    batches: int = 0
    pulled: int = 0
    resent: int = 0  # sent forms queued again because the server's receipt fell short

    def summary(self) -> str:
        sent = ", ".join(f"{n} {status}" for status, n in sorted(self.sent.items())) or "nothing"
        again = f"; {self.resent} sent again, the server having lost them" if self.resent else ""
        return f"sent: {sent} (in {self.batches} batches); pulled {self.pulled} changes{again}"


def connect(store: DeviceStore, **options) -> Connection:
    """A connection as this device, saving rotated tokens to the store as soon as they arrive
    (the old refresh token is spent the moment the server answers)."""
    server = store.get("server")
    access, refresh = store.get("access_token"), store.get("refresh_token")
    if not (server and access and refresh):
        raise RuntimeError("this device is not enrolled")

    def save(tokens: Tokens) -> None:
        store.set(access_token=tokens.access_token, refresh_token=tokens.refresh_token)

    tokens = Tokens(access, refresh, store.device_id)
    return Connection(server, tokens, on_tokens=save, **options)


def enroll(store: DeviceStore, server: str, code: str, name: str, **options) -> str:
    tokens = Connection(server, **options).enroll(code, name)
    store.set(
        server=server,
        device_id=tokens.device_id,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
    )
    return tokens.device_id


def push(
    store: DeviceStore,
    connection: Connection,
    *,
    batch_size: int = BATCH_SIZE,
    report: SyncReport | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> SyncReport:
    """Send every queued form. Returns when the outbox holds only rejected forms."""
    report = report or SyncReport()
    size = batch_size
    while batch := store.next_batch(size, MAX_BATCH_BYTES):
        try:
            answer = connection.push([item.body for item in batch])
        except ApiError as exc:
            if exc.status != 413:
                raise
            if len(batch) == 1:
                store.reject_locally(batch[0], {"": [str(exc)]})
                report.sent["rejected"] += 1
            size = max(1, len(batch) // 2)
            continue
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or [r.get("id") for r in results] != [
            item.id for item in batch
        ]:
            raise ProtocolError("the push answer does not list the batch's forms in order")
        store.settle(batch, results, answer.get("server_time") or utc_now())
        store.observe_server_clock(answer.get("server_hlc"))
        report.batches += 1
        report.sent.update(result["status"] for result in results)
        if on_batch:
            on_batch(len(batch))
    return report


def pull(
    store: DeviceStore,
    connection: Connection,
    *,
    limit: int = 500,
    report: SyncReport | None = None,
    on_page: Callable[[int], None] | None = None,
) -> SyncReport:
    """Bring the store up to date with the server's changes for this device's wards."""
    report = report or SyncReport()
    cursor, rebuild = store.cursor, False
    while True:
        try:
            page = connection.pull(cursor, limit)
        except ApiError as exc:
            if exc.status == 400 and cursor is not None:
                # The server can no longer read our cursor (say, it was restored from a
                # backup): start again from nothing and replace what we had.
                cursor, rebuild = None, True
                continue
            raise
        store.store_page(page, reset=rebuild)
        rebuild = False
        report.pulled += len(page["changes"])
        if on_page:
            on_page(len(page["changes"]))
        cursor = page["next_cursor"]
        if not page.get("has_more"):
            return report


def sync_device(store: DeviceStore, connection: Connection, **callbacks) -> SyncReport:
    """Push, pull, then read the server's receipt: when it holds fewer of this phone's forms
    than the phone sent (it was restored from a backup), the kept ones are sent again."""
    report = SyncReport()
    push(store, connection, report=report, on_batch=callbacks.get("on_batch"))
    pull(store, connection, report=report, on_page=callbacks.get("on_page"))
    receipt = connection.receipt()
    report.resent = store.requeue_if_short(int(receipt["accepted"]))
    if report.resent:
        push(store, connection, report=report, on_batch=callbacks.get("on_batch"))
    store.set(last_sync=utc_now())
    return report


def utc_now() -> str:
    return datetime.now(UTC).isoformat()
