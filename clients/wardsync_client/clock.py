"""The phone's hybrid logical clock, in the server's format ``<wall ms>:<counter>:<device id>``.

The server orders competing edits by these clocks, so a phone stamps every form when it is
recorded (offline), never moves its clock backwards (its wall clock may be reset), and moves
past every clock the server reports, so a form recorded after a sync orders after what that
sync brought.
"""

from __future__ import annotations

import re
import time

_PATTERN = re.compile(r"^(\d{1,15}):(\d{1,9})(?::.*)?$")


def parse(text: str) -> tuple[int, int]:
    match = _PATTERN.match(text or "")
    if not match:
        raise ValueError(f"not a hybrid logical clock: {text!r}")
    return int(match[1]), int(match[2])


def tick(last: tuple[int, int], wall_ms: int | None = None) -> tuple[int, int]:
    """The next local clock after ``last`` (a send or record event)."""
    wall = time.time_ns() // 1_000_000 if wall_ms is None else wall_ms
    if wall > last[0]:
        return wall, 0
    return last[0], last[1] + 1


def observe(last: tuple[int, int], remote: tuple[int, int]) -> tuple[int, int]:
    """The local clock after reading a remote one: never behind either."""
    return max(last, remote)


def render(clock: tuple[int, int], device: str) -> str:
    return f"{clock[0]}:{clock[1]}:{device}"
