"""Reading the served OpenAPI document, and holding a real response up against it."""

from __future__ import annotations

from typing import Any

from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

METHODS = ("get", "put", "post", "delete", "patch")


def operations(spec: dict):
    """Every ``(method, path, operation)`` of the document."""
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def resolve(spec: dict, node: Any) -> Any:
    """Follow a local ``$ref`` (one level at a time, until there is none)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def response_of(spec: dict, method: str, path: str, status: int) -> dict:
    operation = spec["paths"][path][method.lower()]
    declared = operation["responses"]
    assert str(status) in declared, f"{method} {path}: {status} is not declared ({list(declared)})"
    return resolve(spec, declared[str(status)])


def assert_matches(spec: dict, method: str, path: str, response) -> Any:
    """The response's status, media type and body are what the document declares for them.

    ``response`` is a Flask test response; ``path`` the document's template of its URL.
    Returns the decoded JSON body (or None for a body that is not JSON).
    """
    declared = response_of(spec, method, path, response.status_code)
    content = declared.get("content", {})
    if not content:
        assert not response.get_data(), f"{method} {path}: a body where none is declared"
        return None
    media = response.mimetype
    assert media in content, f"{method} {path} {response.status_code}: {media} not in {content}"
    schema = content[media].get("schema")
    if media != "application/json" and not media.endswith("+json"):
        return None
    body = response.get_json()
    if schema is not None:
        validator = OAS30ReadValidator(
            {**schema, "components": spec["components"]}, format_checker=oas30_format_checker
        )
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{method} {path} {response.status_code}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )
    for name, header in declared.get("headers", {}).items():
        if resolve(spec, header).get("required"):
            assert name in response.headers, f"{method} {path}: header {name} is missing"
    return body
