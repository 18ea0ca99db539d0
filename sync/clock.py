"""Hybrid logical clocks: ``<wall ms>:<counter>:<device id>``.

A submission's clock orders it against every other: wall time first (so a later edit usually
wins), a counter for events within one millisecond, and the device id as the final tiebreak,
so two different submissions never compare equal. Stored zero-padded, the string sorts in the
same order as the tuple, in Python and in SQL alike.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

MAX_SKEW_MS = 5 * 60 * 1000  # a wall clock further ahead than this is not believed
# ASCII digits only, to the very end: Python's \d takes any script's digits ("١٢٣") and "$"
# a final newline.
_PATTERN = re.compile(r"([0-9]{1,15}):([0-9]{1,9})(?::(.{0,64}))?\Z")


@dataclass(frozen=True, order=True)
class HLC:
    wall_ms: int
    counter: int
    device: str

    def __str__(self) -> str:
        return f"{self.wall_ms:015d}:{self.counter:09d}:{self.device}"

    @classmethod
    def parse(cls, text: str) -> HLC:
        match = _PATTERN.match(text)
        if not match:
            raise ValueError("Must be '<wall ms>:<counter>:<device id>'.")
        return cls(int(match[1]), int(match[2]), match[3] or "")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Stamp:
    """The clock a submission is stored with, after checking it against the server's."""

    hlc: HLC
    clock_suspect: bool


def stamp(wall_ms: int, counter: int, device: str, server_ms: int) -> Stamp:
    """Clamp a phone's clock that runs more than five minutes ahead of the server's."""
    if wall_ms > server_ms + MAX_SKEW_MS:
        return Stamp(HLC(server_ms, counter, device), True)
    return Stamp(HLC(wall_ms, counter, device), False)


class ServerClock:
    """The server's own HLC: never goes backwards, and moves past every clock it has read.

    It only labels responses (``server_hlc``) so phones can order their next writes after what
    the server has seen; nothing about correctness depends on this in-process state.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wall = 0
        self._counter = 0

    def observe(self, hlc: HLC) -> None:
        with self._lock:
            if (hlc.wall_ms, hlc.counter) > (self._wall, self._counter):
                self._wall, self._counter = hlc.wall_ms, hlc.counter

    def now(self, node: str = "server") -> HLC:
        with self._lock:
            wall = now_ms()
            if wall > self._wall:
                self._wall, self._counter = wall, 0
            else:
                self._counter += 1
            return HLC(self._wall, self._counter, node)


server_clock = ServerClock()
