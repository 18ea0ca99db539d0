"""CI must know PostgreSQL really ran: the count of PostgreSQL tests that passed, and a failed
run when none did."""

from __future__ import annotations

from kit.databases import REQUIRE_PG
from kit.enrol import Phone, enroll_phone  # noqa: F401 - re-exported for the tests

_pg_passed = 0


def pytest_runtest_logreport(report):
    global _pg_passed
    if report.when == "call" and report.passed and "postgresql" in report.nodeid:
        _pg_passed += 1


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"PostgreSQL tests passed: {_pg_passed}")


def pytest_sessionfinish(session, exitstatus):
    # Under pytest-xdist the workers report to the controller, which counts (and prints)
    # every worker's passes: only it may judge that none passed.
    if hasattr(session.config, "workerinput"):
        return
    if REQUIRE_PG and exitstatus == 0 and _pg_passed == 0:
        session.exitstatus = 1
