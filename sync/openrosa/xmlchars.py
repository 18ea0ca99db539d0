"""The characters XML 1.0 can carry, for everything this package writes as XML (or as a CSV
that Collect reads into XML): a name or message with any other would make a document no client
can read, so writers refuse them or put U+FFFD in their place."""

from __future__ import annotations

import re

from sync import text as text_rules

# Not a Char of XML 1.0 (§2.2): C0 controls but tab and line breaks, lone surrogates,
# U+FFFE and U+FFFF.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def replaced(text: str, *, controls: bool = False) -> str:
    """``text`` with what XML cannot carry (and, with ``controls``, the contract's control
    characters, which would show as nothing) as U+FFFD."""
    text = NOT_XML.sub("\ufffd", text)
    return text_rules.CONTROL.sub("\ufffd", text) if controls else text
