"""The served OpenAPI document, made to say what the server does.

flask-smorest documents errors as its own ``Error`` schema in ``application/json``, adds a
``default`` response that swallows every status, and knows nothing of who may call a route.
Here, in one place: every error is ``application/problem+json`` with the ``Problem`` schema
(what ``server.errors`` serves), and each operation lists the statuses it can answer, from
what the route is (it reads a body, it needs a token) and from what its view declares with
``@problems(...)``. Python regexes become ECMA ones, as OpenAPI's patterns are.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from apispec import BasePlugin
from flask import Flask
from flask_smorest import Api
from marshmallow import Schema, fields

from sync import text as text_rules
from sync.forms import fields as contract_fields
from sync.forms import schemas

PROBLEM = "application/problem+json"
SECURITY_SCHEME = "bearerAuth"

# Statuses that need no declaration by the view, and why a route gives them.
EVERY_ROUTE = {
    400: "Malformed request: a body that is not JSON, or a query parameter, path segment or "
    "header that is not valid Unicode or holds control characters; errors names it.",
    503: "The database cannot be reached, or the server is busy; retry after Retry-After.",
}
WITH_BODY = {
    413: "The body is larger than the server accepts.",
    415: "The body is not sent as application/json.",
    422: "The body is well-formed JSON that fails validation; errors names the fields.",
}
WITH_QUERY = "A query parameter fails validation; errors names it."
WITH_TOKEN = {
    401: "No token, or one that is invalid, expired or revoked.",
    403: "The token's role, device or scope does not allow this.",
}
HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme: Bearer.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}
HEADERS[503] = dict(HEADERS[429])


class Problem(Schema):
    """An error, as RFC 9457 problem details; ``errors`` maps flat field paths to messages."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


def problems(*statuses: int, **described: str) -> Callable:
    """Declare the problem statuses a view answers beyond those of its kind of route.

    ``described`` gives a route's own reason for a status (``_404="No such device."``).
    """

    def decorator(view: Callable) -> Callable:
        declared = dict(getattr(view, "openapi_problems", {}))
        for status in statuses:
            declared.setdefault(status, None)
        for key, text in described.items():
            declared[int(key.lstrip("_"))] = text
        view.openapi_problems = declared
        return view

    return decorator


class OneOfNested(fields.Field):
    """Documents a value that is exactly one of several schemas. For the document only: the
    value is validated elsewhere (a push validates each item itself, to answer per item)."""

    def __init__(self, schemas: list[type[Schema]], **kwargs):
        super().__init__(**kwargs)
        self.schemas = schemas


def ecma_pattern(pattern: str) -> str:
    """A pattern used with ``re.match`` and ending in ``\\Z``, written for ECMA regexes.

    ``re.match`` anchors at the start, ``\\Z`` at the very end; ECMA knows no ``\\Z`` and its
    ``$`` (without the multiline flag) is the very end too.
    """
    if pattern.endswith(r"\Z"):
        pattern = pattern[:-2] + "$"
    if not pattern.startswith("^"):
        pattern = "^" + pattern
    return pattern


def _text_pattern() -> str:
    """What ``sync.forms.fields.Text`` lets through: no control character of ``sync.text``'s class,
    and a carriage return only as part of a CRLF line break."""
    inner = text_rules.CONTROL.pattern.removeprefix("[").removesuffix("]")
    return f"^(?:[^{inner}\\r]|\\r\\n)*$"


def _field_attributes(converter, field, ret: dict, **_) -> dict:
    """OpenAPI attributes of the contract's own field types (bound to apispec's converter)."""
    out: dict[str, Any] = {}
    if isinstance(field, OneOfNested):
        out["oneOf"] = [converter.resolve_nested_schema(s) for s in field.schemas]
    if isinstance(field, schemas.UUIDString):
        out["format"] = "uuid"
    if isinstance(field, schemas.Amount):
        out.update(type="number", minimum=0, maximum=field.maximum)
    if isinstance(field, contract_fields.Text) and "pattern" not in ret:
        out["pattern"] = _text_pattern()
    elif "pattern" in ret:
        out["pattern"] = ecma_pattern(ret["pattern"])
    return out


class ContractPlugin(BasePlugin):
    """Completes each operation from its view: security, and every status it can answer."""

    def __init__(self, app: Flask):
        self.app = app

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        rule = kwargs.get("rule")
        view = self.app.view_functions.get(rule.endpoint) if rule is not None else None
        for operation in (operations or {}).values():
            if isinstance(operation, dict):
                self._complete(operation, view)

    @staticmethod
    def _complete(operation: dict, view: Callable | None) -> None:
        if view is not None and view.__doc__:
            operation.update(_described(view.__doc__))
        declared: dict[int, str | None] = dict(EVERY_ROUTE)
        if any(p.get("in") == "query" for p in operation.get("parameters", [])):
            declared[422] = WITH_QUERY
        if "requestBody" in operation:
            declared.update(WITH_BODY)
        roles = getattr(view, "required_roles", None)
        if roles:
            declared.update(WITH_TOKEN)
            operation["security"] = [{SECURITY_SCHEME: []}]
            operation["x-roles"] = list(roles)
        for status, text in getattr(view, "openapi_problems", {}).items():
            if text or status not in declared:
                declared[status] = text
        responses = operation.setdefault("responses", {})
        responses.pop("default", None)
        for status, text in declared.items():
            if text is None:
                responses[status] = HTTPStatus(status).name  # the shared component
            else:
                responses[status] = _problem_response(text, status)
        operation["responses"] = dict(sorted(responses.items(), key=lambda kv: int(kv[0])))


def _described(docstring: str) -> dict[str, str]:
    """The view's docstring as the operation's description, its first sentence the summary."""
    paragraphs = [" ".join(p.split()) for p in inspect.cleandoc(docstring).split("\n\n")]
    description = "\n\n".join(p for p in paragraphs if p)
    summary = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0]
    return {"summary": summary, "description": description}


def _problem_response(description: str, status: int) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


class ContractApi(Api):
    """flask-smorest's Api with problem+json errors and no catch-all ``default`` response."""

    ERROR_SCHEMA = Problem
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        self.spec.components.schema("Problem", schema=Problem)
        for status in HTTPStatus:
            if status >= 400:
                response = _problem_response(status.phrase, status)
                self.spec.components.response(status.name, response, lazy=True)


def init_api(app: Flask) -> ContractApi:
    security = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from login, refresh or enrolment; for the export "
            "endpoints (x-roles api_key), an API key instead.",
        }
    }
    api = ContractApi(
        app,
        spec_kwargs={
            "components": {"securitySchemes": security},
            "extra_plugins": [ContractPlugin(app)],
        },
    )
    api.ma_plugin.converter.add_attribute_function(_field_attributes)
    return api
