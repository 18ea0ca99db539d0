"""Authorization scope by org unit: a user sees the subtrees of the units they are given."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, true

from sync.models import OrgUnit, User

GLOBAL_ROLES = frozenset({"admin", "hq"})


@dataclass(frozen=True)
class Scope:
    """Either everything, or the subtrees under ``paths`` (materialized paths)."""

    everything: bool
    paths: tuple[str, ...] = ()

    @classmethod
    def of_user(cls, user: User) -> Scope:
        if user.role in GLOBAL_ROLES:
            return cls(everything=True)
        return cls.of_units(user.org_units)

    @classmethod
    def of_units(cls, units) -> Scope:
        return cls(everything=False, paths=tuple(sorted(u.path for u in units)))

    def covers(self, unit: OrgUnit) -> bool:
        return self.covers_path(unit.path)

    def covers_path(self, path: str) -> bool:
        return self.everything or any(path.startswith(p) for p in self.paths)

    def contains(self, other: Scope) -> bool:
        if self.everything:
            return True
        if other.everything:
            return False
        return all(self.covers_path(p) for p in other.paths)

    def ancestor_paths(self) -> frozenset[str]:
        """Paths of the units strictly above the scope's roots (shown for navigation only)."""
        above = set()
        for path in self.paths:
            parts = path.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                above.add("/" + "/".join(parts[:i]) + "/")
        return frozenset(above)

    def filter(self, path_column=OrgUnit.path) -> ColumnElement[bool]:
        """A SQL condition that keeps rows whose org unit path lies in this scope."""
        if self.everything:
            return true()
        if not self.paths:
            return false()
        return or_(*(path_column.startswith(p, autoescape=True) for p in self.paths))
