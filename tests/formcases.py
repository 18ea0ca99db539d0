"""Values for every form, read off the form definitions alone: what they call valid, and one
step past each limit they state. Used by the server's tests and by the phone app's."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from sync.forms.definitions import DEFINITIONS, FieldDef, FormDef

# Free text a volunteer could type: no control characters, no lone surrogates; blanks at the
# ends are stripped by the server, so a value made of them is tested among the limits instead.
TEXT = st.characters(exclude_categories=("Cc", "Cs"))
MISSING = object()  # the field left out


def valid_value(f: FieldDef) -> st.SearchStrategy:
    if f.type == "choice":
        return st.sampled_from([c.value for c in f.choices])
    if f.type in ("code",) or (f.type == "string" and f.pattern):
        return st.from_regex(f.pattern, fullmatch=True, alphabet=st.characters(codec="ascii"))
    if f.type == "string":
        return st.text(TEXT, min_size=f.min_length or 0, max_size=f.max_length).filter(
            lambda s: s == s.strip() and len(s) >= (f.min_length or 0)
        )
    if f.type == "integer":
        return st.integers(f.min, f.max)
    if f.type == "number":
        return st.decimals(f.min, f.max, places=f.decimals).map(_number)
    if f.type == "uuid":
        return st.uuids().map(str)
    raise AssertionError(f.type)


def _number(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def valid_data(d: FormDef) -> st.SearchStrategy[dict]:
    required = {f.name: valid_value(f) for f in d.fields if f.required}
    optional = {f.name: valid_value(f) for f in d.fields if not f.required}
    return st.fixed_dictionaries(required, optional=optional)


def boundary_values(f: FieldDef) -> list[tuple[str, object]]:
    """Values exactly at each stated limit: the definitions call them valid."""
    out: list[tuple[str, object]] = []
    if f.min is not None:
        out.append(("min", f.min))
    if f.max is not None:
        out.append(("max", f.max))
    if f.max_length is not None and f.type == "string":
        out.append(("max_length", "ả" * f.max_length))
    if f.min_length and f.type == "string":
        out.append(("min_length", "a" * f.min_length))
    if f.type == "code":
        out.append(("max_length", "a" * f.max_length))
    if f.decimals is not None:
        out.append(("decimals", float(Decimal(1).scaleb(-f.decimals)) + 1))
    return out


def beyond_values(f: FieldDef) -> list[tuple[str, object]]:
    """One step past every limit the definition states, each a value it must refuse."""
    out: list[tuple[str, object]] = []
    step = 1 if f.type == "integer" else Decimal(1).scaleb(-(f.decimals or 0))
    if f.min is not None:
        out.append(("min", _number(Decimal(f.min) - step)))
    if f.max is not None:
        out.append(("max", _number(Decimal(f.max) + step)))
    if f.decimals is not None:
        out.append(("decimals", float(Decimal(1).scaleb(-(f.decimals + 1))) + 1))
    if f.type in ("integer", "number"):
        out.append(("type", "1"))
        out.append(("type", True))
    if f.type == "integer":
        out.append(("type", 1.5))
    if f.max_length is not None:
        out.append(("max_length", "a" * (f.max_length + 1)))
    if f.min_length:
        out.append(("min_length", "a" * (f.min_length - 1)))
        out.append(("min_length", " " * f.min_length))  # blanks are stripped first
    if f.type == "string" and not f.pattern:
        out.append(("control", "a\x00b"))
        out.append(("control", "a\x1bb"))
    if f.pattern:
        out.append(("pattern", ""))
        if f.type == "code":
            out.append(("pattern", "a b"))
            out.append(("pattern", "phố"))
            out.append(("pattern", "a\n"))
        else:  # the citizen id: twelve ASCII digits, nothing before or after
            out.append(("pattern", "1" * 11))
            out.append(("pattern", "1" * 13))
            out.append(("pattern", "١٢٣٤٥٦٧٨٩٠١٢"))  # Arabic-Indic digits
            out.append(("pattern", "123456789012\n"))
            out.append(("pattern", " 123456789012"))
            out.append(("pattern", "12345678901a"))
    if f.choices:
        out.append(("choices", "not_a_choice"))
        out.append(("choices", f.choices[0].value.upper()))
    if f.type == "uuid":
        out.append(("type", "not-a-uuid"))
        out.append(("type", 12))
    if f.type in ("string", "code", "choice"):
        out.append(("type", 12))
    out.append(("null", None))
    if f.required:
        out.append(("required", MISSING))
    return out


def with_value(d: FormDef, name: str, value: object) -> dict:
    data = base_data(d)
    if value is MISSING:
        data.pop(name, None)
    else:
        data[name] = value
    return data


def base_data(d: FormDef) -> dict:
    """A minimal valid ``data`` for the form (required fields only), to vary one field of."""
    examples = {
        "citizen_id": "001203004005",
        "household_id": "5b0e3c2e-8a53-4c87-9f54-1f2a3b4c5d6e",
        "target": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "gift_kind": "rice",
        "round": "2023-tet",
        "reason": "entered twice",
    }
    out = {}
    for f in d.fields:
        if f.required:
            out[f.name] = f.choices[0].value if f.choices else examples[f.name]
    return out


def limit_cases() -> list[tuple[str, str, str, object]]:
    """``(form, field, limit, value)`` for every value one step past a stated limit."""
    return [
        (d.form, f.name, limit, value)
        for d in DEFINITIONS
        for f in d.fields
        for limit, value in beyond_values(f)
    ]


def boundary_cases() -> list[tuple[str, str, str, object]]:
    return [
        (d.form, f.name, limit, value)
        for d in DEFINITIONS
        for f in d.fields
        for limit, value in boundary_values(f)
    ]
