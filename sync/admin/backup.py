"""Backups of the embedded SQLite database, taken while the server serves, and restores.

Copying the database file is not a backup: in WAL mode the last commits live in the ``-wal``
file beside it, and a copy taken mid-write is torn. SQLite's online backup API reads the
database through a connection instead. Done in one step, it copies one read transaction's
snapshot: in WAL mode that snapshot does not block the server's writers, and every commit is
either wholly in the copy or not at all. Pushes acknowledged after the snapshot are not in it;
phones hold on to what they sent and resend it when the server's receipt (``GET
/api/v1/devices/me``) says it has fewer of their forms than they sent.

Restoring writes the backup into the database through the same API (so a ``-wal`` left beside
the file cannot resurrect newer pages), with the server stopped: SQLite has no way to tell a
restore from another writer, and workers that kept their connections would go on with cached
pages of the old database.

PostgreSQL has its own tools (``pg_dump``/``pg_restore``, base backups with WAL archiving for
point-in-time recovery); the README's runbook says how.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from sync.errors import DomainError


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    bytes: int
    submissions: int
    revision: str


class BackupError(DomainError):
    status = 400
    title = "Backup failed"


def sqlite_path(url: str) -> Path:
    """The file of an SQLite URL, or a clear refusal for any other database."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        raise BackupError(
            "wardsync backup and restore are for the embedded SQLite database; for PostgreSQL "
            "use pg_dump and pg_restore (see the README's runbook)."
        )
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("An in-memory database has nothing to back up.")
    return Path(parsed.database)


def backup(url: str, target: Path) -> BackupInfo:
    """Write a consistent copy of the live database to ``target`` (replaced only once whole)."""
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"There is no database at {source_path}.")
    target = Path(target)
    if target.resolve() == source_path.resolve():
        raise BackupError("The backup must go to another file than the database.")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # one step: one snapshot, the writers not held up (WAL)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            info = _check(copy, partial)
        finally:
            copy.close()
    finally:
        source.close()
    os.replace(partial, target)
    return BackupInfo(target, target.stat().st_size, info[0], info[1])


def restore(backup_path: Path, url: str) -> BackupInfo:
    """Replace the database's content with the backup's (the server must be stopped)."""
    backup_path = Path(backup_path)
    target_path = sqlite_path(url)
    if not backup_path.is_file():
        raise BackupError(f"There is no backup at {backup_path}.")
    copy = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
    try:
        submissions, revision = _check(copy, backup_path)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(target_path, timeout=30)
        try:
            copy.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
            target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            target.close()
    finally:
        copy.close()
    return BackupInfo(backup_path, backup_path.stat().st_size, submissions, revision)


def _check(connection: sqlite3.Connection, path: Path) -> tuple[int, str]:
    """The copy is whole and is a wardsync database: its submissions and schema revision."""
    try:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        submissions = connection.execute("SELECT count(*) FROM submissions").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a wardsync database: {exc}") from exc
    if verdict != "ok":
        raise BackupError(f"{path} fails SQLite's integrity check: {verdict}")
    if revision is None:
        raise BackupError(f"{path} has no schema revision: not a wardsync database.")
    return submissions, revision[0]
