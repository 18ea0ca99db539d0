"""The chaos suite's figures in the run's summary: each scenario leaves its block in its
report's ``user_properties`` (which pytest-xdist carries to the controller), printed here."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter):
    blocks = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "chaos_figures"
    ]
    if blocks:
        terminalreporter.section("chaos suite figures")
        for block in blocks:
            terminalreporter.write_line(block)
