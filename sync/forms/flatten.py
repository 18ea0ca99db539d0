"""Marshmallow's nested error messages as the contract's flat dotted paths."""

from __future__ import annotations

from typing import Any


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """``{"data": {"status": ["…"]}}`` becomes ``{"data.status": ["…"]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = (
                prefix or "_schema"
                if key == "_schema"
                else f"{prefix}.{key}"
                if prefix
                else str(key)
            )
            for sub, msgs in flatten(value, path).items():
                flat.setdefault(sub, []).extend(msgs)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for item in messages:
            for sub, msgs in flatten(item, prefix).items():
                flat.setdefault(sub, []).extend(msgs)
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat
