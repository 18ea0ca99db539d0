"""The input gate: every string of every request is valid Unicode without control characters,
or the request is refused naming the field (``sync.text`` has the rule).

Checked here, once, before any view, schema, hash or database sees the request:

- JSON bodies: bytes that are not UTF-8 (CESU-8 surrogates ``ED A0 80`` among them) and
  ``NaN``/``Infinity`` are malformed JSON (400); a ``\\ud800`` escape or a control character in
  any key or value is a 422 naming the field. A push batch's submissions are left to the push
  path, which rejects a bad one on its own and keeps its neighbours.
- query strings and form bodies, from the raw bytes (werkzeug would quietly turn invalid UTF-8
  into U+FFFD): 400 naming the parameter;
- path parameters and the headers taken as data: 400 naming them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider

from sync import text

from .errors import ApiError

# Headers whose values the server reads as data, not just routing.
DATA_HEADERS = ("Authorization", "Accept-Language", "X-Request-ID", "X-Forwarded-For")
PER_ITEM = "wardsync_gate_per_item"


class StrictJSONProvider(DefaultJSONProvider):
    """JSON as RFC 8259 has it: UTF-8 only (strict), and no ``NaN`` or ``Infinity``."""

    def loads(self, s, **kwargs):
        if isinstance(s, bytes | bytearray):
            s = bytes(s).decode("utf-8")  # UnicodeDecodeError is a ValueError: a 400
        return json.loads(s, parse_constant=_no_constant, **kwargs)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def items_checked_by_view(field: str) -> Callable:
    """Mark a view whose body's list ``field`` is checked item by item by the view itself."""

    def mark(view: Callable) -> Callable:
        setattr(view, PER_ITEM, field)
        return view

    return mark


def check_request() -> None:
    _check_headers()
    _check_pairs(request.query_string, "query")
    if request.view_args:
        errors = {k: [r] for k, v in request.view_args.items() if (r := _problem_of(v))}
        if errors:
            raise ApiError(400, "The address holds characters it may not.", errors=errors)
    if request.mimetype == "application/x-www-form-urlencoded":
        _check_pairs(request.get_data(cache=True), "form")
    elif request.is_json and request.content_length:
        _check_json()


def _problem_of(value) -> str | None:
    return text.problem(value) if isinstance(value, str) else None


def _check_headers() -> None:
    errors = {}
    for name in DATA_HEADERS:
        value = request.headers.get(name)
        if value is not None and not _visible_ascii(value):
            errors[name] = ["Must be printable ASCII."]
    if errors:
        raise ApiError(400, "A header holds characters it may not.", errors=errors)


def _visible_ascii(value: str) -> bool:
    return all(" " <= c <= "~" or c == "\t" for c in value)


def _check_pairs(raw: bytes, where: str) -> None:
    """``a=1&b=2`` from the raw bytes: each name and value must decode as strict UTF-8."""
    errors: dict[str, list[str]] = {}
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name_raw, _, value_raw = pair.partition(b"=")
        name = _decode(name_raw)
        if name is None or text.problem(name):
            errors.setdefault(f"{where}.<invalid name>", []).append(text.NOT_UNICODE)
            continue
        value = _decode(value_raw)
        reason = text.NOT_UNICODE if value is None else text.problem(value)
        if reason:
            errors.setdefault(name, []).append(reason)
    if errors:
        raise ApiError(400, f"The {where} holds text that is not valid.", errors=errors)


def _decode(raw: bytes) -> str | None:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _check_json() -> None:
    body = request.get_json()  # strict: malformed JSON is a 400 from the error handlers
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    errors = text.problems(body, skip=getattr(view, PER_ITEM, None))
    if errors:
        raise ApiError(
            422,
            "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
            title="Validation failed",
            errors=errors,
        )


def init_app(app: Flask) -> None:
    app.json = StrictJSONProvider(app)
    app.before_request(check_request)
