"""The org-unit tree: creating units and reading them within a scope."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sync.accounts.scope import Scope
from sync.admin import audit
from sync.errors import Conflict, Invalid, NotFound
from sync.feed import journal
from sync.models import OrgUnit, User


def get(session: Session, code: str) -> OrgUnit | None:
    return session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def require(session: Session, code: str, field: str = "org_unit") -> OrgUnit:
    unit = get(session, code)
    if unit is None:
        raise Invalid.field(field, f"Unknown org unit '{code}'.")
    return unit


def existing(session: Session, codes: Iterable[str]) -> Sequence[OrgUnit]:
    return session.scalars(select(OrgUnit).where(OrgUnit.code.in_(list(codes)))).all()


def require_many(session: Session, codes: Iterable[str], field: str = "org_units") -> list[OrgUnit]:
    codes = list(dict.fromkeys(codes))
    found = {u.code: u for u in existing(session, codes)}
    errors = {
        f"{field}.{i}": [f"Unknown org unit '{code}'."]
        for i, code in enumerate(codes)
        if code not in found
    }
    if errors:
        raise Invalid("Unknown org units.", errors)
    return [found[c] for c in codes]


def create(
    session: Session, code: str, name: str, parent_code: str | None, actor: User | None = None
) -> OrgUnit:
    if get(session, code) is not None:
        raise Conflict(f"Org unit '{code}' already exists.", {"code": ["Already exists."]})
    parent = require(session, parent_code, "parent") if parent_code else None
    unit = OrgUnit(
        code=code,
        name=name,
        parent_id=parent.id if parent else None,
        path="",
        depth=parent.depth + 1 if parent else 0,
    )
    session.add(unit)
    session.flush()  # the id is part of the path
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    audit.record(session, actor, "org_unit.create", "org_unit", code, name=name, parent=parent_code)
    journal.publish(session, [journal.Change("org_unit", code, unit.path)])
    return unit


def children(session: Session, parent_code: str | None, scope: Scope) -> Sequence[OrgUnit]:
    """The children of ``parent_code`` (the roots when None) that the scope may see.

    A scoped user asking for the roots gets the tops of their own subtrees instead, so a ward
    lead's tree starts at their ward.
    """
    if parent_code is None:
        if scope.everything:
            query = select(OrgUnit).where(OrgUnit.parent_id.is_(None))
        else:
            query = select(OrgUnit).where(OrgUnit.path.in_(scope.paths))
    else:
        parent = get(session, parent_code)
        above = scope.ancestor_paths()
        if parent is None or not (scope.covers(parent) or parent.path in above):
            raise NotFound(f"No org unit '{parent_code}'.")
        visible = (
            scope.filter() if scope.everything else or_(scope.filter(), OrgUnit.path.in_(above))
        )
        query = select(OrgUnit).where(OrgUnit.parent_id == parent.id, visible)
    return session.scalars(query.order_by(OrgUnit.code)).all()


def ancestors(session: Session, unit: OrgUnit) -> Sequence[OrgUnit]:
    ids = [int(part) for part in unit.path.strip("/").split("/")[:-1]]
    if not ids:
        return []
    return session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)).order_by(OrgUnit.depth)).all()
