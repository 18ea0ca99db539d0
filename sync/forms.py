"""The three forms (and ``void``), versioned, as marshmallow schemas.

Unknown fields are errors, never dropped: a phone must not be able to smuggle in a field (a
VNeID password, say) that the form does not declare. Money is an integer number of đồng.
A citizen id leaves this module only as a keyed hash and a masked form.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from . import text
from .fields import Address, Code, Name, Note, StrictInteger

STATUSES = ("visited", "no_smartphone", "installed", "activated", "refused", "ineligible")
HELP_KINDS = ("road_repair", "yard_concrete", "sanitation", "house_repair", "cleanup", "other")
UNITS = ("m", "m2", "item", "hour")
PHONE_OWNERS = ("self", "family", "volunteer")
EVENT_FORMS = ("household_help", "gift")
MAX_INT32 = 2**31 - 1  # the widest integer column the envelope's numbers are stored in
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UUIDString(fields.String):
    """A uuid, kept as its canonical lowercase text."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return str(uuid.UUID(text))
        except ValueError as exc:
            raise ValidationError("Not a valid UUID.") from exc


class Amount(fields.Field):
    """A non-negative JSON number with at most two decimals, kept exact as a Decimal."""

    def __init__(self, *, maximum: int, **kwargs):
        super().__init__(**kwargs)
        self.maximum = maximum

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Not a valid number.")
        try:
            amount = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValidationError("Not a valid number.") from exc
        if not amount.is_finite() or amount < 0 or amount > self.maximum:
            raise ValidationError(f"Must be between 0 and {self.maximum}.")
        if amount.as_tuple().exponent < -2:
            raise ValidationError("At most two decimal places.")
        return amount

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ActivationV1(StrictSchema):
    citizen_id = fields.String(
        # ASCII digits to the very end: Python's \d takes any script's digits and $ a final
        # newline, and either would make a second record for one citizen.
        required=True,
        validate=validate.Regexp(r"[0-9]{12}\Z", error="Must be 12 digits."),
    )
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    household_id = UUIDString()
    household_address = Address()
    phone_owner = fields.String(validate=validate.OneOf(PHONE_OWNERS))
    note = Note()


class HouseholdHelpV1(StrictSchema):
    household_id = UUIDString(required=True)
    household_address = Address()
    kind = fields.String(required=True, validate=validate.OneOf(HELP_KINDS))
    quantity = Amount(maximum=1_000_000_000)
    unit = fields.String(validate=validate.OneOf(UNITS))
    volunteers = StrictInteger(load_default=1, validate=validate.Range(min=1, max=10_000))
    hours = Amount(maximum=1000, load_default=Decimal(0))
    note = Note()


class GiftV1(StrictSchema):
    household_id = UUIDString(required=True)
    household_address = Address()
    gift_kind = Code(required=True)
    round = Code(required=True)
    count = StrictInteger(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    value_vnd = StrictInteger(load_default=0, validate=validate.Range(min=0, max=10**13))
    donor = Name()
    note = Note()


class VoidV1(StrictSchema):
    target = UUIDString(required=True)
    reason = Note(required=True, min_length=1)


FORMS: dict[tuple[str, int], type[Schema]] = {
    ("activation", 1): ActivationV1,
    ("household_help", 1): HouseholdHelpV1,
    ("gift", 1): GiftV1,
    ("void", 1): VoidV1,
}
FORM_NAMES = tuple(sorted({name for name, _ in FORMS}))


class Envelope(StrictSchema):
    id = UUIDString(required=True)
    form = fields.String(required=True, validate=validate.OneOf(FORM_NAMES))
    form_version = StrictInteger(required=True)
    campaign = Code(required=True)
    org_unit = Code(required=True)
    recorded_at = fields.AwareDateTime(required=True, format="iso")
    hlc = fields.String(validate=validate.Length(max=100))
    base_version = StrictInteger(load_default=0, validate=validate.Range(min=0, max=MAX_INT32))
    data = fields.Dict(required=True)

    @validates("recorded_at")
    def _recorded_at(self, value, **_):
        # A time the clock and the day cannot be computed from is an error of this item,
        # not of the whole batch (negative epoch milliseconds make no clock).
        try:
            utc = value.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError("Out of range.") from exc
        if utc < EPOCH:
            raise ValidationError("Must not be before 1970-01-01T00:00:00Z.")

    @validates("hlc")
    def _hlc(self, value, **_):
        from .clock import HLC

        try:
            HLC.parse(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


_envelope = Envelope()
_schemas = {key: cls() for key, cls in FORMS.items()}


def validate_submission(item: Any) -> dict:
    """The submission, validated; raises ValidationError with flat ``data.field`` paths."""
    if not isinstance(item, dict):
        raise ValidationError({"_schema": ["Must be an object."]})
    envelope = _envelope.load(item)
    schema = _schemas.get((envelope["form"], envelope["form_version"]))
    if schema is None:
        raise ValidationError({"form_version": ["Unknown version of this form."]})
    try:
        envelope["data"] = schema.load(envelope["data"])
    except ValidationError as exc:
        raise ValidationError({"data": exc.messages}) from exc
    return envelope


def item_id(item: Any) -> str | None:
    """The id to echo for an item, even one that failed validation (but not one that cannot
    be echoed: an id that is not valid text is answered as null)."""
    sid = item.get("id") if isinstance(item, dict) else None
    if isinstance(sid, str) and text.problem(sid) is None:
        return sid[:64]
    return None


def content_hash(item: dict, key: str) -> str:
    """A keyed hash of what the phone sent, to tell a resend from an id reused for new content.

    Keyed, because the content holds a citizen id: a plain hash of a 12-digit number could be
    reversed by trying them all. The device part of ``hlc`` is ignored, as the server ignores it.
    """
    canonical = {k: v for k, v in item.items() if k != "hlc"}
    if isinstance(item.get("hlc"), str):
        canonical["hlc"] = ":".join(item["hlc"].split(":")[:2])
    canonical.setdefault("base_version", 0)
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key.encode(), b"content:" + text.encode(), hashlib.sha256).hexdigest()


def citizen_hash(citizen_id: str, key: str) -> str:
    return hmac.new(key.encode(), b"citizen:" + citizen_id.encode(), hashlib.sha256).hexdigest()


def mask_citizen_id(citizen_id: str) -> str:
    return "*" * (len(citizen_id) - 3) + citizen_id[-3:]


class CorrectionValues(StrictSchema):
    """What a lead may set on an activation record: its status and its other fields."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    household_id = UUIDString()
    household_address = Address()
    phone_owner = fields.String(validate=validate.OneOf(PHONE_OWNERS))
    note = Note()
