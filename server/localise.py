"""The reasons a push refuses a form, in the volunteer's language (``Accept-Language``).

Chosen over translating in the phone app because the server knows every reason, including
those no form definition can state (an unknown campaign, a ward outside the device's scope, an
id already used): one catalogue (``server/web/translations``, beside the lead's pages) then
serves the phone app, the Python client and, later, ODK Collect, which shows the server's
message as it comes. Only the message text changes; the field paths, the statuses and every
other meaning of the contract stay as they are. Without an ``Accept-Language`` the messages
stay in English, as before.

Messages with numbers in them (marshmallow's ranges and lengths) are matched against their
templates, translated as templates and filled in again.
"""

from __future__ import annotations

import re

from flask import request
from flask_babel import force_locale, gettext

LANGUAGES = ("vi", "en")

# English templates of the messages that carry values, as marshmallow and sync/ write them.
TEMPLATES = (
    "Must be greater than or equal to {min} and less than or equal to {max}.",
    "Must be greater than or equal to {min}.",
    "Must be less than or equal to {max}.",
    "Must be between {min} and {max}.",
    "Length must be between {min} and {max}.",
    "Shorter than minimum length {min}.",
    "Longer than maximum length {max}.",
    "Must be one of: {choices}.",
    "At most {places} decimal places.",
)


def _compile(template: str) -> tuple[re.Pattern, str]:
    pattern = re.escape(template)
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", pattern)
    msgid = re.sub(r"\{(\w+)\}", r"%(\1)s", template)
    return re.compile(pattern + r"\Z"), msgid


_COMPILED = [_compile(t) for t in TEMPLATES]


def wanted_locale() -> str:
    return request.accept_languages.best_match(LANGUAGES) or "en"


def translate(message: str) -> str:
    """One message in the current locale; an unknown one stays as it is."""
    for pattern, msgid in _COMPILED:
        match = pattern.match(message)
        if match:
            return gettext(msgid, **match.groupdict())
    return gettext(message)


def push_results(results: list[dict]) -> list[dict]:
    """The push's results with their error messages in the caller's language."""
    locale = wanted_locale()
    if locale == "en" or not any("errors" in r for r in results):
        return results
    out = []
    with force_locale(locale):
        for result in results:
            if "errors" in result:
                errors = {
                    path: [translate(m) for m in msgs] for path, msgs in result["errors"].items()
                }
                result = {**result, "errors": errors}
            out.append(result)
    return out
