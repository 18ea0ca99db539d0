"""The counting rules for household help and gifts: pure functions over events, so any order,
batching or repetition of the same submissions counts the same.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from sync.rules.contributions import Contributions


@dataclass
class Event:
    """A household_help or gift submission as the counting rules see it."""

    sid: str
    form: str
    hlc: str
    day: str
    org: int
    household: str
    business_key: str | None = None
    count: int = 0
    value_vnd: int = 0
    volunteers: int = 1
    hours: Decimal = Decimal(0)
    voided: bool = False
    decision: str | None = None  # gifts: "confirmed" / "rejected" by a lead
    extra: dict = field(default_factory=dict)

    @property
    def order(self) -> tuple[str, str]:
        return (self.hlc, self.sid)


def gift_standing(gifts: list[Event]) -> dict[str, str]:
    """For one business key (household, gift kind, round): what each gift counts as.

    Among the gifts not void, the lowest ``(hlc, id)`` counts; each other one is a suspected
    double until a lead confirms it (then it counts) or rejects it (it never does).
    """
    standing: dict[str, str] = {}
    live = sorted((g for g in gifts if not g.voided), key=lambda g: g.order)
    for i, gift in enumerate(live):
        if i == 0 or gift.decision == "confirmed":
            standing[gift.sid] = "counted"
        elif gift.decision == "rejected":
            standing[gift.sid] = "rejected"
        else:
            standing[gift.sid] = "suspected"
    for gift in gifts:
        standing.setdefault(gift.sid, "void")
    return standing


def gift_contributions(gifts: list[Event]) -> Contributions:
    out: Contributions = Counter()
    standing = gift_standing(gifts)
    for gift in gifts:
        if standing[gift.sid] == "counted":
            out[(gift.org, "gifts_delivered", gift.day)] += gift.count
            out[(gift.org, "gift_value_vnd", gift.day)] += gift.value_vnd
        elif standing[gift.sid] == "suspected":
            out[(gift.org, "suspected_doubles", gift.day)] += 1
    return out


def help_contributions(helps: list[Event]) -> Contributions:
    """Help events of one household: each live event, and the household once (earliest)."""
    out: Contributions = Counter()
    live = sorted((h for h in helps if not h.voided), key=lambda h: h.order)
    for event in live:
        out[(event.org, "help_events", event.day)] += 1
        centi_hours = int(event.volunteers * event.hours * 100)
        out[(event.org, "volunteer_hours", event.day)] += centi_hours
    if live:
        out[(live[0].org, "households_helped", live[0].day)] += 1
    return out
