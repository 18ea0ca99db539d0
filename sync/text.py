"""What every string the server takes must be, and how free text is kept at rest.

One rule for every string of every request, so that nothing past the input gate ever sees a
string it cannot store, hash or send back: valid Unicode (a lone UTF-16 surrogate, from a
``\\ud800`` escape or CESU-8 bytes, cannot be encoded, stored in PostgreSQL or hashed) and no
control characters but tab and line breaks (the contract; C1 controls U+0080-U+009F included,
which some Windows code pages turn into invisible junk).

Free text (notes, reasons, addresses) is where a volunteer will type a citizen id, so a run of
12 or more digits there is masked at rest the way citizen ids are: only the last 3 stay.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls but tab, newline and carriage return; DEL; C1 controls.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
# 12+ digits (any script's), optionally grouped by single spaces, dots or dashes, as people
# write long numbers ("001 203 004 005", "0012-0300-4005").
LONG_NUMBER = re.compile(r"(?<!\d)\d(?:[ .\-]?\d){11,}(?!\d)")
KEEP_DIGITS = 3

NOT_UNICODE = "Not valid Unicode (a lone surrogate)."
HAS_CONTROL = "Must not contain control characters."


def problem(text: str) -> str | None:
    """Why ``text`` may not enter the system, or None when it may."""
    if SURROGATE.search(text):
        return NOT_UNICODE
    if CONTROL.search(text):
        return HAS_CONTROL
    return None


def problems(value: Any, path: str = "", *, skip: str | None = None) -> dict[str, list[str]]:
    """Every string in a decoded JSON value (object keys too), by flat dotted path.

    ``skip`` names a top-level list whose items are checked by the caller item by item (a
    push batch: one bad submission must not reject its neighbours).
    """
    found: dict[str, list[str]] = {}
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            reason = problem(node)
            if reason:
                found.setdefault(where or "_schema", []).append(reason)
        elif isinstance(node, dict):
            for key, child in node.items():
                key_text = key if isinstance(key, str) else str(key)
                reason = problem(key_text)
                child_path = f"{where}.{_safe(key_text)}" if where else _safe(key_text)
                if reason:
                    found.setdefault(child_path, []).append(f"Field name: {reason}")
                    continue
                if skip is not None and not where and key == skip and isinstance(child, list):
                    continue
                stack.append((child, child_path))
        elif isinstance(node, list):
            stack.extend((item, f"{where}.{i}" if where else str(i)) for i, item in enumerate(node))
    return found


def _safe(key: str) -> str:
    """A field name fit to be echoed in an error path (the bad name itself is not)."""
    return key if problem(key) is None else "<invalid name>"


def mask_numbers(text: str) -> str:
    """``"cccd 001203004005"`` -> ``"cccd *********005"``: long numbers keep their last 3 digits."""
    return LONG_NUMBER.sub(_mask, text)


def _mask(match: re.Match) -> str:
    digits = [c for c in match.group() if c.isdigit()]
    return "*" * (len(digits) - KEEP_DIGITS) + "".join(digits[-KEEP_DIGITS:])
