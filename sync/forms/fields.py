"""Marshmallow field types for the contract's string rules.

Every string the API takes is checked here once: valid Unicode, no NUL or other control
characters (newline and tab aside; see ``sync.text``), and the contract's length caps (names
100, addresses 200, notes 500). Free text has long numbers masked before anything keeps it.
"""

from __future__ import annotations

import re

from marshmallow import ValidationError, fields, validate

from sync import text as text_rules

CODE_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")  # \Z: "$" would let a final newline in


class Text(fields.String):
    """A string free of control characters, stripped of surrounding blanks, with a length cap.

    Line breaks are kept as ``\\n`` alone: a browser's textarea sends ``\\r\\n``.
    """

    def __init__(self, *, max_length: int = 100, min_length: int = 1, **kwargs):
        kwargs.setdefault("validate", validate.Length(min=min_length, max=max_length))
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        reason = text_rules.problem(text)
        if reason:
            raise ValidationError(reason)
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            raise ValidationError(text_rules.HAS_CONTROL)
        return text.strip()


class FreeText(Text):
    """Text a person types freely, where a citizen id may turn up: masked at rest."""

    def _deserialize(self, value, attr, data, **kwargs):
        return text_rules.mask_numbers(super()._deserialize(value, attr, data, **kwargs))


def Name(**kwargs) -> Text:  # noqa: N802 - reads like a field class at the call site
    return FreeText(max_length=100, **kwargs)


def Address(**kwargs) -> Text:  # noqa: N802
    return FreeText(max_length=200, **kwargs)


def Note(**kwargs) -> Text:  # noqa: N802
    kwargs.setdefault("min_length", 0)
    return FreeText(max_length=500, **kwargs)


class Code(fields.String):
    """1–64 letters, digits, ``-``, ``_`` and ``.``: org units, campaigns, gift kinds, rounds."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "validate",
            validate.Regexp(CODE_PATTERN, error="Must be 1-64 letters, digits, '-', '_' or '.'."),
        )
        super().__init__(**kwargs)


class StrictInteger(fields.Integer):
    """An integer that refuses ``"12"``, ``12.5`` and ``true``: money is never coerced."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)
