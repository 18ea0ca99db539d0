"""The pages' catalogues: every message the pages and their views can show has a Vietnamese
translation with the same placeholders, and every code shown by name (metrics, review kinds,
statuses, form kinds) has a Vietnamese and an English one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from sync.forms.schemas import STATUSES
from sync.progress.metrics import METRICS
from sync.progress.volunteers import FORMS
from sync.review.queue import KINDS

WEB = Path(__file__).resolve().parents[2] / "server" / "web"
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}
CODES = [*METRICS, *KINDS, *STATUSES, *(f"form_{f}" for f in FORMS)]


def _catalogue(lang: str):
    with (WEB / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


def _extracted() -> list[str]:
    found = extract_from_dir(
        str(WEB),
        [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")],
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords=KEYWORDS,
    )
    return sorted({m if isinstance(m, str) else m[0] for _f, _l, m, _c, _x in found})


def test_every_message_of_the_pages_is_in_vietnamese():
    vi = _catalogue("vi")
    missing = [m for m in _extracted() if m not in vi or not vi[m].string]
    assert missing == []


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_translations_keep_their_placeholders(lang):
    for message in _catalogue(lang):
        if message.id and message.string:
            names = sorted(re.findall(r"%\((\w+)\)s", message.id))
            assert sorted(re.findall(r"%\((\w+)\)s", message.string)) == names, message.id


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_codes_shown_by_name_read_as_words(lang):
    catalogue = _catalogue(lang)
    assert [c for c in CODES if c not in catalogue or not catalogue[c].string] == []
