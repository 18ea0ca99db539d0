"""Incremental exports for headquarters' scripts: each run fetches only what was committed since
the last one, into a new file, and keeps the cursor in a small JSON state file.

A run's rows and its cursor must move together, or a crash repeats or loses rows. So a run
first writes the file beside its final name, then records in the state file the cursor it is
about to adopt and the file that proves it, renames the file into place, and only then adopts
the cursor. A run that finds such a pending entry adopts the cursor if the file made it into
place and forgets it otherwise. A download cut short is thrown away and fetched again.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
import urllib3

from .api import Connection

PATH = "/api/v1/exports/submissions"
EXTENSIONS = {"csv": "csv", "ndjson": "ndjson", "xlsx": "xlsx"}
BROKEN_DOWNLOAD = (
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.Timeout,
    urllib3.exceptions.HTTPError,  # a stream read directly from urllib3 that was cut short
    http.client.HTTPException,
)


class ExportStateError(Exception):
    pass


@dataclass(frozen=True)
class ExportRun:
    path: Path | None  # None when nothing new arrived (no empty file is left behind)
    rows: int | None  # None for XLSX, which is not read back
    cursor: str


class IncrementalExport:
    def __init__(self, connection: Connection, state_file: str | Path, **query: str | None):
        self.connection = connection
        self.state_file = Path(state_file)
        self.query = {key: value for key, value in query.items() if value}
        self.format = self.query.setdefault("format", "csv")
        if self.format not in EXTENSIONS:
            raise ValueError(f"format must be one of {', '.join(EXTENSIONS)}")
        self._load()  # a state file of another export is refused before anything is fetched

    # -- the state file ------------------------------------------------------------------

    def _load(self) -> dict:
        if not self.state_file.exists():
            return {"query": self.query, "after": None}
        state = json.loads(self.state_file.read_text())
        if state.get("query") != self.query:
            raise ExportStateError(
                f"{self.state_file} belongs to another export ({state.get('query')}); "
                "use one state file per export"
            )
        return state

    def _save(self, state: dict) -> None:
        _write_durably(self.state_file, json.dumps(state, indent=2).encode())

    def _recover(self, state: dict) -> dict:
        pending = state.pop("pending", None)
        if pending and Path(pending["file"]).exists():
            state["after"] = pending["cursor"]
        if pending:
            self._save(state)
        return state

    @property
    def cursor(self) -> str | None:
        return self._load().get("after")

    # -- a run ---------------------------------------------------------------------------

    def run(
        self,
        out_dir: str | Path,
        *,
        attempts: int = 5,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ExportRun:
        """Fetch what came since the last run into a new file in ``out_dir``.

        ``on_progress(rows, bytes)`` is called as the download proceeds."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        state = self._recover(self._load())
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"submissions-{self.query['campaign']}-{self.query.get('form', 'all')}-{stamp}"
        final = out_dir / f"{name}.{EXTENSIONS[self.format]}"
        for stale in out_dir.glob(f"{name[: -len(stamp)]}*.part"):
            stale.unlink()  # left by a run that died mid-download
        part = final.with_name(final.name + ".part")
        for attempt in range(attempts):
            try:
                cursor, rows = self._download(state.get("after"), part, on_progress)
                break
            except BROKEN_DOWNLOAD:
                part.unlink(missing_ok=True)
                if attempt == attempts - 1:
                    raise
                time.sleep(min(30.0, 0.5 * 2**attempt))
        if rows == 0:
            part.unlink()
            state["after"] = cursor
            self._save(state)
            return ExportRun(None, 0, cursor)
        state["pending"] = {"file": str(final), "cursor": cursor}
        self._save(state)
        os.replace(part, final)
        _fsync_dir(out_dir)
        state = self._recover(state)
        return ExportRun(final, rows, cursor)

    def _download(
        self, after: str | None, part: Path, on_progress: Callable[[int, int], None] | None
    ) -> tuple[str, int | None]:
        params = {**self.query, **({"after": after} if after else {})}
        with self.connection.stream(PATH, params) as response:
            cursor = response.headers.get("X-Next-Cursor")
            if not cursor:
                raise ExportStateError("the server sent no X-Next-Cursor")
            with part.open("wb") as out:
                if self.format == "xlsx":
                    rows = None
                    for chunk in response.iter_content(1 << 16):
                        out.write(chunk)
                        if on_progress:
                            on_progress(0, out.tell())
                else:
                    rows = self._copy_counting(response, out, on_progress)
                out.flush()
                os.fsync(out.fileno())
        return cursor, rows

    def _copy_counting(self, response, out, on_progress) -> int:
        """Write the body exactly as sent while counting its records (a CSV note may span
        several lines, so CSV rows are counted by a CSV reader, not by newlines)."""
        response.raw.decode_content = True
        text = io.TextIOWrapper(response.raw, encoding="utf-8", newline="")
        written = 0

        def lines() -> Iterator[str]:
            nonlocal written
            for line in text:
                data = line.encode()
                out.write(data)
                written += len(data)
                yield line

        if self.format == "csv":
            records = csv.reader(lines())
            next(records, None)  # the header
        else:
            records = (line for line in lines() if line.strip())
        rows = 0
        for _ in records:
            rows += 1
            if on_progress and rows % 1000 == 0:
                on_progress(rows, written)
        if on_progress:
            on_progress(rows, written)
        return rows


def _write_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
