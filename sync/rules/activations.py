"""The merge rules, as pure functions over plain values.

Each rule is a join (or a choice by a total order), so the same set of submissions gives the
same result whatever order, batching or repetition it arrives in. The one deliberate
exception is which *field* conflicts are opened: that depends on what each phone had seen
(``base_version``) when its write arrived. Property tests in ``tests/sync`` check all of this.

Orders used throughout: a submission's position is ``(hlc, submission id)``; ``hlc`` strings
are zero-padded so they sort like the clocks they encode.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, NamedTuple

from sync.rules.contributions import Contributions

RUNGS = ("visited", "no_smartphone", "installed", "activated")
RUNG = {name: i + 1 for i, name in enumerate(RUNGS)}
NEGATIVES = ("refused", "ineligible")
LWW_FIELDS = ("household_id", "household_address", "phone_owner", "note")


# --- activation records -------------------------------------------------------------------


@dataclass(frozen=True)
class ActivationInput:
    sid: str
    hlc: str
    device: str
    day: str
    org: int
    status: str
    fields: dict[str, Any]
    base_version: int = 0


@dataclass(frozen=True)
class FieldClash:
    """A stale write met another device's different value for the same field."""

    field: str
    theirs: Any
    mine: Any
    their_sid: str


class Mark(NamedTuple):
    """Where a report (or a lead's correction) sits in a record's order, and where it counts.

    Kept in a record's state as the JSON list ``[hlc, sid, day, org]`` (the stored form since
    the first release); ``Mark.of`` reads one back, so no rule indexes a list by position.
    """

    hlc: str
    sid: str
    day: str
    org: int

    @classmethod
    def of(cls, stored: list | None) -> Mark | None:
        return None if stored is None else cls(*stored)

    @property
    def order(self) -> tuple[str, str]:
        return (self.hlc, self.sid)


def _mark(sub: ActivationInput) -> Mark:
    return Mark(sub.hlc, sub.sid, sub.day, sub.org)


def _earlier(current: list | None, candidate: Mark) -> list:
    """The earlier of a stored mark and a new one, in the stored (list) form."""
    if current is None or candidate.order < Mark.of(current).order:
        return list(candidate)
    return current


def new_activation_state() -> dict:
    return {"rung": 0, "first": {}, "neg": {}, "origin": None, "fields": {}}


def merge_activation(
    state: dict, sub: ActivationInput, version: int
) -> tuple[dict, list[FieldClash]]:
    """Fold one submission into a record's state; ``version`` is the record's new version.

    - status: the highest rung ever reported (a join); ``first[rung]`` keeps the earliest
      submission (by clock) that reported that rung or a higher one, for the daily series;
    - negative outcomes: a set beside the ladder, each with its earliest report;
    - other fields: last writer wins by ``(hlc, id)``; a write whose ``base_version`` predates
      the field's last change by another device, with a different value, is a clash.
    """
    corr = state.get("corr")
    state = {
        "rung": state["rung"],
        "first": dict(state["first"]),
        "neg": dict(state["neg"]),
        "origin": state["origin"],
        "fields": dict(state["fields"]),
    }
    if corr is not None:
        state["corr"] = _after_correction(corr, sub)
    mark = _mark(sub)
    state["origin"] = _earlier(state["origin"], mark)
    if sub.status in RUNG:
        rung = RUNG[sub.status]
        state["rung"] = max(state["rung"], rung)
        for name in RUNGS[:rung]:
            state["first"][name] = _earlier(state["first"].get(name), mark)
    else:
        state["neg"][sub.status] = _earlier(state["neg"].get(sub.status), mark)

    clashes: list[FieldClash] = []
    for name in LWW_FIELDS:
        if name not in sub.fields:
            continue
        value = sub.fields[name]
        current = state["fields"].get(name)
        if (
            current is not None
            and sub.base_version < current["ver"]
            and current["dev"] != sub.device
            and current["v"] != value
        ):
            clashes.append(FieldClash(name, current["v"], value, current["sid"]))
        if current is None or (sub.hlc, sub.sid) > (current["hlc"], current["sid"]):
            state["fields"][name] = {
                "v": value,
                "hlc": sub.hlc,
                "sid": sub.sid,
                "dev": sub.device,
                "ver": version,
            }
    return state, clashes


# --- a lead's correction ----------------------------------------------------------------------
#
# The only way a status moves down. The correction is stamped with the server's clock; what
# phones report after it (by clock) still moves the record up from there. Only the latest
# correction counts, so the result depends on the set of submissions and corrections alone.


def _after_correction(corr: dict, sub: ActivationInput) -> dict:
    if (sub.hlc, sub.sid) <= (corr["hlc"], corr["sid"]):
        return corr
    corr = {**corr, "post_neg": list(corr["post_neg"])}
    if sub.status in RUNG:
        corr["post_rung"] = max(corr["post_rung"], RUNG[sub.status])
    elif sub.status not in corr["post_neg"]:
        corr["post_neg"] = sorted([*corr["post_neg"], sub.status])
    return corr


def correct(
    state: dict, status: str | None, fields: dict, mark: Mark, later: list[ActivationInput]
) -> dict:
    """Apply a lead's correction made at ``mark``.

    ``status``: a rung sets the ladder there and clears negative outcomes; ``refused`` or
    ``ineligible`` leaves no rung and that outcome alone. ``later``: the record's submissions
    whose clocks are after the correction (a phone's clock may run a little ahead).
    """
    state = {**state, "fields": dict(state["fields"])}
    previous = state.get("corr")
    if previous is not None and mark.order < (previous["hlc"], previous["sid"]):
        return state  # an older correction than the one in force changes nothing
    if status is not None or previous is not None:
        day = mark.day
        if status is None:
            # A correction of fields alone keeps the status in force, with what phones
            # reported after the previous correction (they moved it on from there).
            rung = max(previous["rung"], previous["post_rung"])
            neg = sorted(set(previous["neg"]) | set(previous["post_neg"]))
            day = previous["day"]
        elif status in RUNG:
            rung, neg = RUNG[status], []
        else:
            rung, neg = 0, [status]
        corr = {
            "hlc": mark.hlc,
            "sid": mark.sid,
            "day": day,
            "org": mark.org,
            "rung": rung,
            "neg": neg,
            "post_rung": 0,
            "post_neg": [],
        }
        for sub in later:
            corr = _after_correction(corr, sub)
        state["corr"] = corr
    for name, value in fields.items():
        current = state["fields"].get(name)
        if current is None or mark.order > (current["hlc"], current["sid"]):
            state["fields"][name] = {
                "v": value,
                "hlc": mark.hlc,
                "sid": mark.sid,
                "dev": "lead",
                "ver": current["ver"] if current else 0,
            }
    return state


def effective(state: dict) -> tuple[int, list[str]]:
    """The rung and negative outcomes in force: the ladder's join, or the correction's."""
    corr = state.get("corr")
    if corr is None:
        return state["rung"], sorted(state["neg"])
    return max(corr["rung"], corr["post_rung"]), sorted(set(corr["neg"]) | set(corr["post_neg"]))


def status_of(state: dict) -> str | None:
    rung, _ = effective(state)
    return RUNGS[rung - 1] if rung else None


def outcomes_of(state: dict) -> list[str]:
    return effective(state)[1]


def has_status_conflict(state: dict) -> bool:
    """Activated and also refused or ineligible: a lead must look."""
    rung, neg = effective(state)
    return rung == RUNG["activated"] and bool(neg)


def activation_contributions(state: dict) -> Contributions:
    out: Contributions = Counter()
    origin = Mark.of(state["origin"])
    if origin is None:
        return out
    org = origin.org
    out[(org, "citizens_reached", origin.day)] += 1
    rung, negatives = effective(state)
    corr_day = state["corr"]["day"] if state.get("corr") else None

    def day_of(marks: dict, name: str) -> str:
        # A rung only a correction gave has no phone report: it counts on the correction's day.
        return Mark.of(marks[name]).day if name in marks else corr_day

    if rung == RUNG["no_smartphone"]:
        out[(org, "no_smartphone", day_of(state["first"], "no_smartphone"))] += 1
    if rung >= RUNG["installed"]:
        out[(org, "accounts_installed", day_of(state["first"], "installed"))] += 1
    if rung >= RUNG["activated"]:
        out[(org, "accounts_activated", day_of(state["first"], "activated"))] += 1
    for name in negatives:
        out[(org, name, day_of(state["neg"], name))] += 1
    return out


def visible_fields(state: dict) -> dict[str, Any]:
    """The winning value of each field, without the clocks behind them."""
    return {name: entry["v"] for name, entry in sorted(state["fields"].items())}


# --- events ---------------------------------------------------------------------------------
