"""Writing the audit log: every administrative change goes through here, in its transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from sync.models import AuditEntry, User


def record(
    session: Session,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: str | int,
    **details: Any,
) -> AuditEntry:
    entry = AuditEntry(
        actor_user_id=actor.id if actor else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        details=details,
    )
    session.add(entry)
    return entry
