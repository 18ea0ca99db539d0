"""A fast path for checking submissions, compiled from the same definitions as the schemas.

A profile of a 500-item push put a third of its time in marshmallow. These checkers do the
same work as the schemas generated in ``sync.forms.schemas`` (they are built from the same
``sync.forms.definitions`` definitions and the same string rules), as plain Python. They only ever
*accept*: anything they do not accept goes to marshmallow, which gives the answer and its
exact messages. So a case this path misses costs time, never a wrong answer; a property test
(``tests/forms/test_fastcheck.py``) shows that whatever it accepts, marshmallow accepts too,
with the same values.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sync import text
from sync.clock import HLC
from sync.forms import definitions
from sync.forms.definitions import FieldDef, FormDef
from sync.forms.fields import CODE_PATTERN

REFUSED = object()  # a value this path does not accept (marshmallow decides)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_INT32 = 2**31 - 1

Check = Callable[[Any], Any]


def _string(value):
    return value if isinstance(value, str) else REFUSED


def _code(value):
    if isinstance(value, str) and CODE_PATTERN.match(value):
        return value
    return REFUSED


def _uuid(value):
    if not isinstance(value, str):
        return REFUSED
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return REFUSED


def _integer(low: int | None, high: int | None) -> Check:
    def check(value):
        if type(value) is not int:  # not bool, not float: as StrictInteger
            return REFUSED
        if (low is not None and value < low) or (high is not None and value > high):
            return REFUSED
        return value

    return check


def _number(low: int, high: int, places: int) -> Check:
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return REFUSED
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return REFUSED
        if not amount.is_finite() or amount < low or amount > high:
            return REFUSED
        if amount.as_tuple().exponent < -places:
            return REFUSED
        return amount

    return check


def _free_text(low: int | None, high: int | None) -> Check:
    def check(value):
        if not isinstance(value, str) or text.problem(value):
            return REFUSED
        value = value.replace("\r\n", "\n")
        if "\r" in value:
            return REFUSED
        value = text.mask_numbers(value.strip())
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            return REFUSED
        return value

    return check


def _pattern(pattern: str) -> Check:
    compiled = re.compile(rf"(?:{pattern})\Z")

    def check(value):
        return value if isinstance(value, str) and compiled.match(value) else REFUSED

    return check


def _choice(values: frozenset[str]) -> Check:
    def check(value):
        return value if isinstance(value, str) and value in values else REFUSED

    return check


def field_check(definition: FieldDef) -> Check:
    kind = definition.type
    if kind == "string" and definition.pattern is not None:
        return _pattern(definition.pattern)
    if kind == "string":
        return _free_text(definition.min_length, definition.max_length)
    if kind == "integer":
        return _integer(definition.min, definition.max)
    if kind == "number":
        return _number(definition.min, definition.max, definition.decimals)
    if kind == "uuid":
        return _uuid
    if kind == "code":
        return _code
    if kind == "choice":
        return _choice(frozenset(c.value for c in definition.choices))
    raise AssertionError(f"no fast check for type {kind!r}")


def form_check(definition: FormDef) -> Callable[[Any], dict | None]:
    """``data`` checked and loaded as the form's schema would, or None."""
    plan = []
    for f in definition.fields:
        default = f.default
        if default is not None and f.type == "number":
            default = Decimal(default)
        plan.append((f.name, field_check(f), f.required, default))
    known = frozenset(f.name for f in definition.fields)

    def check(data):
        if not isinstance(data, dict) or not known.issuperset(data):
            return None
        out = {}
        for name, checker, required, default in plan:
            if name in data:
                value = checker(data[name])
                if value is REFUSED:
                    return None
                out[name] = value
            elif required:
                return None
            elif default is not None:
                out[name] = default
        return out

    return check


FORMS = {key: form_check(d) for key, d in definitions.BY_KEY.items()}
FORM_NAMES = frozenset(name for name, _ in FORMS)

_base_version = _integer(0, MAX_INT32)
ENVELOPE = frozenset(
    {
        "id",
        "form",
        "form_version",
        "campaign",
        "org_unit",
        "recorded_at",
        "hlc",
        "base_version",
        "data",
    }
)


def submission(item: Any) -> dict | None:
    """The submission as ``sync.forms.schemas.validate_submission`` loads it, or None."""
    if not isinstance(item, dict) or not ENVELOPE.issuperset(item):
        return None
    try:
        sid, form, version = item["id"], item["form"], item["form_version"]
        campaign, unit, at, data = (
            item["campaign"],
            item["org_unit"],
            item["recorded_at"],
            item["data"],
        )
    except KeyError:
        return None
    sid = _uuid(sid)
    if sid is REFUSED or not isinstance(form, str) or form not in FORM_NAMES:
        return None
    if type(version) is not int or _code(campaign) is REFUSED or _code(unit) is REFUSED:
        return None
    if not isinstance(at, str):
        return None
    try:
        recorded_at = datetime.fromisoformat(at)
        aware = recorded_at.tzinfo is not None and recorded_at.utcoffset() is not None
        if not aware or recorded_at.astimezone(UTC) < EPOCH:
            return None
    except (ValueError, OverflowError):
        return None
    out = {
        "id": sid,
        "form": form,
        "form_version": version,
        "campaign": campaign,
        "org_unit": unit,
        "recorded_at": recorded_at,
    }
    if "hlc" in item:
        hlc = item["hlc"]
        if not isinstance(hlc, str) or len(hlc) > 100:
            return None
        try:
            HLC.parse(hlc)
        except ValueError:
            return None
        out["hlc"] = hlc
    base = item.get("base_version", 0)
    if "base_version" in item and _base_version(base) is REFUSED:
        return None
    out["base_version"] = base
    check = FORMS.get((form, version))
    if check is None or not isinstance(data, dict):
        return None
    loaded = check(data)
    if loaded is None:
        return None
    out["data"] = loaded
    return out
