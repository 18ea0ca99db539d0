"""Contributions to the progress counters, and the arithmetic every rule's deltas go through."""

from __future__ import annotations

from collections import Counter

# Contributions to the counters: (org unit id, metric, ISO day) -> amount.
Contributions = Counter


def difference(after: Contributions, before: Contributions) -> Contributions:
    """``after - before`` with negative amounts kept (Counter subtraction drops them)."""
    delta: Contributions = Counter()
    for key in set(after) | set(before):
        change = after.get(key, 0) - before.get(key, 0)
        if change:
            delta[key] = change
    return delta


def add(total: Contributions, more: Contributions) -> None:
    for key, amount in more.items():
        total[key] += amount
