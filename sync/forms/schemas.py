"""The forms' marshmallow schemas, generated from their definitions in ``sync.forms.definitions``.

Unknown fields are errors, never dropped: a phone must not be able to smuggle in a field (a
VNeID password, say) that the form does not declare. Money is an integer number of đồng.
A citizen id leaves this module only as a keyed hash and a masked form.

There is no hand-written schema of a form here: each one is built from its definition, so the
server validates exactly what ``GET /api/v1/forms`` tells the phones.
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

from sync import text
from sync.forms import definitions, fastcheck
from sync.forms.definitions import FieldDef, FormDef
from sync.forms.fields import Address, Code, Name, Note, StrictInteger


def _values(form: str, name: str) -> tuple[str, ...]:
    return tuple(c.value for c in definitions.BY_KEY[(form, 1)].field(name).choices)


STATUSES = _values("activation", "status")
HELP_KINDS = _values("household_help", "kind")
UNITS = _values("household_help", "unit")
PHONE_OWNERS = _values("activation", "phone_owner")
EVENT_FORMS = ("household_help", "gift")
MAX_INT32 = 2**31 - 1  # the widest integer column the envelope's numbers are stored in
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TEXT_FIELDS = {"name": Name, "address": Address, "note": Note}


class UUIDString(fields.String):
    """A uuid, kept as its canonical lowercase text."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return str(uuid.UUID(text))
        except ValueError as exc:
            raise ValidationError("Not a valid UUID.") from exc


class Amount(fields.Field):
    """A JSON number within bounds and with at most ``places`` decimals, kept exact as a
    Decimal (never a float: 0.1 + 0.2 hours must add up)."""

    def __init__(self, *, minimum: int = 0, maximum: int, places: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum
        self.places = places

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Not a valid number.")
        try:
            amount = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValidationError("Not a valid number.") from exc
        if not amount.is_finite() or amount < self.minimum or amount > self.maximum:
            raise ValidationError(f"Must be between {self.minimum} and {self.maximum}.")
        if amount.as_tuple().exponent < -self.places:
            raise ValidationError(f"At most {self.places} decimal places.")
        return amount

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


def _text(definition: FieldDef, **kwargs) -> fields.Field:
    """Free text through the contract's own caps, which must be the ones the definition states."""
    built = TEXT_FIELDS[definition.text](min_length=definition.min_length, **kwargs)
    lengths = [v for v in _validators(built) if isinstance(v, validate.Length)]
    caps = (lengths[0].min, lengths[0].max) if lengths else (None, None)
    if caps != (definition.min_length, definition.max_length):
        raise AssertionError(f"{definition.name}: sync.forms.fields allows {caps}")
    return built


def _validators(built: fields.Field) -> list:
    return list(getattr(built, "validators", []))


def build_field(definition: FieldDef, *, required: bool | None = None) -> fields.Field:
    """The marshmallow field that checks what ``definition`` states, and nothing else."""
    kwargs: dict[str, Any] = {
        "required": definition.required if required is None else required,
        # For the OpenAPI document (apispec reads metadata); validation ignores it.
        "metadata": {"description": definition.label.en},
    }
    if definition.default is not None:
        kwargs["load_default"] = (
            Decimal(definition.default) if definition.type == "number" else definition.default
        )
    kind = definition.type
    if kind == "string" and definition.pattern is not None:
        # No stripping: " 001203004005" is not 12 digits, whatever a lenient reader might say.
        return fields.String(
            validate=validate.Regexp(
                rf"(?:{definition.pattern})\Z", error=definition.pattern_error or "Invalid."
            ),
            **kwargs,
        )
    if kind == "string":
        return _text(definition, **kwargs)
    if kind == "integer":
        return StrictInteger(
            validate=validate.Range(min=definition.min, max=definition.max), **kwargs
        )
    if kind == "number":
        kwargs["metadata"].update(
            type="number",
            minimum=definition.min,
            maximum=definition.max,
            description=f"{definition.label.en}; at most {definition.decimals} decimals",
        )
        return Amount(
            minimum=definition.min,
            maximum=definition.max,
            places=definition.decimals,
            **kwargs,
        )
    if kind == "uuid":
        kwargs["metadata"]["format"] = "uuid"
        return UUIDString(**kwargs)
    if kind == "code":
        return Code(**kwargs)
    if kind == "choice":
        return fields.String(
            validate=validate.OneOf([c.value for c in definition.choices]), **kwargs
        )
    raise AssertionError(f"no marshmallow field for type {kind!r}")


def build_schema(
    definition: FormDef,
    *,
    only: tuple[str, ...] | None = None,
    optional: bool = False,
    name: str | None = None,
) -> type[Schema]:
    """A schema class generated from a definition (``optional``: every field may be left out)."""
    declared = {
        f.name: build_field(f, required=False if optional else None)
        for f in definition.fields
        if only is None or f.name in only
    }
    name = name or f"{_camel(definition.form)}V{definition.version}"
    body = {**declared, "__doc__": definition.label.en, "__module__": __name__}
    return type(name, (StrictSchema,), body)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


FORMS: dict[tuple[str, int], type[Schema]] = {
    key: build_schema(definition) for key, definition in definitions.BY_KEY.items()
}
FORM_NAMES = tuple(sorted({name for name, _ in FORMS}))
ActivationV1 = FORMS[("activation", 1)]
HouseholdHelpV1 = FORMS[("household_help", 1)]
GiftV1 = FORMS[("gift", 1)]
VoidV1 = FORMS[("void", 1)]


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
        from sync.clock import HLC

        try:
            HLC.parse(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


_envelope = Envelope()
_schemas = {key: cls() for key, cls in FORMS.items()}


def validate_submission(item: Any) -> dict:
    """The submission, validated; raises ValidationError with flat ``data.field`` paths.

    The fast path (``sync.forms.fastcheck``) answers what it accepts; the rest, and every error
    message, come from the schemas.
    """
    accepted = fastcheck.submission(item)
    if accepted is not None:
        return accepted
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


# What a lead may set on an activation record: its status and its other fields.
CorrectionValues = build_schema(
    definitions.ACTIVATION_V1,
    only=("status", "household_id", "household_address", "phone_owner", "note"),
    optional=True,
    name="CorrectionValues",
)
