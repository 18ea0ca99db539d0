"""Numbers as the reader of the page writes them, in the page's language, through Babel.

Vietnamese groups thousands with ``.`` and writes decimals after ``,`` (``2.402.300.000 ₫``,
``91.618,5`` hours, ``81,2%``); English the other way round (``₫2,402,300,000``, ``91,618.5``,
``81.2%``). Every figure on the pages goes through one of these, so none is written by hand.
"""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal

from babel.numbers import NumberPattern, parse_pattern
from flask import Flask
from flask_babel import format_currency, format_datetime, get_locale

from sync.progress.metrics import SCALE

# Counts are whole; hours carry at most the two decimals they are stored in (centi-hours),
# and no trailing zeros: 91618.0 is "91.618", 1.5 is "1,5".
COUNT = "#,##0"
HOURS = "#,##0.##"
PERCENT = "#,##0.0%"
MONEY_METRICS = frozenset({"gift_value_vnd"})


@functools.cache
def _pattern(pattern: str) -> NumberPattern:
    """Babel's parsed pattern, parsed once (a table of 300 volunteers formats 2,000 counts)."""
    return parse_pattern(pattern)


def count(value) -> str:
    if value is None:
        return ""
    return _pattern(COUNT).apply(value, get_locale())


def hours(value) -> str:
    if value is None:
        return ""
    return _pattern(HOURS).apply(_exact(value), get_locale())


def money(value) -> str:
    """Đồng: no minor unit, the symbol where the language puts it."""
    if value is None:
        return ""
    return format_currency(value, "VND")


def percent(value) -> str:
    """``value`` in percent, as the API gives it (81.2 means 81.2 %), to one decimal."""
    if value is None:
        return ""
    return _pattern(PERCENT).apply(_exact(value) / 100, get_locale())


def metric(value, name: str) -> str:
    """A metric's value in the way that metric is read: đồng, hours or a count."""
    if name in MONEY_METRICS:
        return money(value)
    if name in SCALE:
        return hours(value)
    return count(value)


def when(value: datetime | None) -> str:
    """A moment, short, in the page's language (UTC shown in the user's zone by Babel)."""
    if value is None:
        return ""
    return format_datetime(value, "short")


def _exact(value) -> Decimal:
    """A float's shortest text as a Decimal: 81.2 stays 81.2, not 81.19999…"""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def init_app(app: Flask) -> None:
    app.add_template_filter(count, "count")
    app.add_template_filter(hours, "hours")
    app.add_template_filter(money, "money")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(metric, "metric")
    app.add_template_filter(when, "when")
