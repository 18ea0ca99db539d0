"""The pages' numbers in both languages: Babel's formats through Flask-Babel, as readers of
each language write them (money ``2.402.300.000 ₫``, thousands separators, hours without a
trailing ``.0``, percentages to one decimal)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from flask import Flask, render_template_string
from flask_babel import Babel, force_locale

from server.web import numbers

NBSP = "\xa0"  # Babel keeps the amount and its symbol on one line


@pytest.fixture(scope="module")
def app():
    app = Flask(__name__)
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Ho_Chi_Minh"
    Babel(app)
    numbers.init_app(app)
    with app.test_request_context():
        yield app


CASES = [
    # (filter, value, Vietnamese, English)
    ("money", 2_402_300_000, f"2.402.300.000{NBSP}₫", "₫2,402,300,000"),
    ("money", 0, f"0{NBSP}₫", "₫0"),
    ("money", 450_000, f"450.000{NBSP}₫", "₫450,000"),
    ("count", 59_119, "59.119", "59,119"),
    ("count", 1_000_000, "1.000.000", "1,000,000"),
    ("count", 7, "7", "7"),
    ("count", 0, "0", "0"),
    ("hours", 91_618.0, "91.618", "91,618"),
    ("hours", 91_618.5, "91.618,5", "91,618.5"),
    ("hours", 1.25, "1,25", "1.25"),
    ("hours", 0.0, "0", "0"),
    ("hours", Decimal("3.10"), "3,1", "3.1"),
    ("percent", 81.2, "81,2%", "81.2%"),
    ("percent", 25.0, "25,0%", "25.0%"),
    ("percent", 100, "100,0%", "100.0%"),
    ("percent", 1234.56, "1.234,6%", "1,234.6%"),
    ("percent", 0.04, "0,0%", "0.0%"),
]


@pytest.mark.parametrize(("name", "value", "vi", "en"), CASES)
def test_each_filter_in_both_languages(app, name, value, vi, en):
    for locale, expected in (("vi", vi), ("en", en)):
        with force_locale(locale):
            assert getattr(numbers, name)(value) == expected, locale
            shown = render_template_string(f"{{{{ v | {name} }}}}", v=value)
            assert shown == expected, locale


@pytest.mark.parametrize(
    ("metric", "value", "vi", "en"),
    [
        ("gift_value_vnd", 2_402_300_000, f"2.402.300.000{NBSP}₫", "₫2,402,300,000"),
        ("volunteer_hours", 91_618.0, "91.618", "91,618"),
        ("accounts_activated", 12_345, "12.345", "12,345"),
        ("suspected_doubles", 3, "3", "3"),
    ],
)
def test_a_metric_is_shown_the_way_it_is_read(app, metric, value, vi, en):
    for locale, expected in (("vi", vi), ("en", en)):
        with force_locale(locale):
            assert numbers.metric(value, metric) == expected, locale


def test_nothing_is_shown_as_nothing(app):
    for name in ("money", "count", "hours", "percent", "when"):
        assert getattr(numbers, name)(None) == ""


def test_a_moment_is_shown_in_vietnams_time(app):
    moment = datetime(2023, 7, 29, 2, 30, tzinfo=UTC)  # 09:30 in Hồ Chí Minh City
    with force_locale("vi"):
        assert "09:30" in numbers.when(moment)
    with force_locale("en"):
        assert "9:30" in numbers.when(moment)


def test_no_float_noise_reaches_a_percentage(app):
    with force_locale("en"):
        # 0.1 + 0.2 is 0.30000000000000004 as a float: still 0.3 on the page.
        assert numbers.percent(0.1 + 0.2) == "0.3%"
        assert numbers.hours(0.1 + 0.2) == "0.3"
