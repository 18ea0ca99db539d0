"""An independent model of the contract, written from DESIGN.md and PROTOCOL.md alone.

A plain fold: the submissions a server received (with the server's clock at each push), a
lead's decisions on suspected doubles and a lead's corrections go in; records, open review
items and every progress metric by ward and day come out. It imports nothing from ``sync/``
or ``server/``, so a merge rule that the server gets wrong is a difference with this file,
not a wrong rule checked against itself.

What is order-independent by contract (every metric but ``open_conflicts``, the records, the
suspected doubles) is computed from the sets alone, each time it is asked for. Which field
conflicts open depends on what each phone had seen when its write arrived, so the review
items for conflicts are kept as the writes arrive, in the order the test sent them.

Readings of the contract where it leaves a detail open (each stated where it is used):
a citizen and a household count in the ward of their earliest report by clock; a household
helped counts on the day of its earliest live help event; a negative outcome counts on the day
of its earliest report; a status or outcome only a correction gave counts on that
correction's day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

LADDER = ("visited", "no_smartphone", "installed", "activated")
NEGATIVES = ("refused", "ineligible")
FIELDS = ("household_id", "household_address", "phone_owner", "note")
METRICS = (
    "citizens_reached",
    "no_smartphone",
    "accounts_installed",
    "accounts_activated",
    "refused",
    "ineligible",
    "help_events",
    "households_helped",
    "volunteer_hours",
    "gifts_delivered",
    "gift_value_vnd",
    "suspected_doubles",
    "open_conflicts",
)
SKEW_MS = 5 * 60 * 1000  # "more than 5 minutes ahead of the server"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Clock = tuple[int, int, str]  # wall ms, counter, device id: the hybrid logical clock's order


def epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def rung(status: str) -> int:
    """1..4 on the ladder, 0 for a negative outcome."""
    return LADDER.index(status) + 1 if status in LADDER else 0


@dataclass(frozen=True)
class Received:
    """A submission as first received: its clock and day after clamping."""

    id: str
    form: str
    ward: str
    device: str
    clock: Clock
    day: str
    data: dict
    base_version: int  # the record version the phone had seen (activations)
    content: dict  # what the phone sent, to tell a resend from a reuse of the id

    @property
    def order(self) -> tuple:
        return (self.clock, self.id)


@dataclass(frozen=True)
class Correction:
    id: str  # "correction:<n>": the tiebreak after the clock, like a submission's id
    clock: Clock
    day: str
    status: str | None
    fields: dict

    @property
    def order(self) -> tuple:
        return (self.clock, self.id)


@dataclass
class Answer:
    """What the model expects the push to answer for one item."""

    duplicate: bool
    flags: set[str] = field(default_factory=set)


@dataclass
class _Winner:
    value: object
    order: tuple
    writer: str
    version: int  # the record's version when this value was written


class Model:
    def __init__(
        self,
        parents: dict[str, str | None],
        targets: dict[tuple[str, str], int] | None = None,
        timezone: str = "Asia/Ho_Chi_Minh",
    ):
        self.parents = parents
        self.targets = dict(targets or {})
        self.zone = ZoneInfo(timezone)
        self.subs: dict[str, Received] = {}
        self.by_citizen: dict[str, list[Received]] = defaultdict(list)  # activation reports
        self.decisions: dict[str, bool] = {}  # gift id -> confirmed
        self.corrections: dict[str, list[Correction]] = defaultdict(list)
        # Kept in arrival order, for the review items whose opening depends on it.
        self.version: Counter = Counter()  # citizen -> record version
        self.winners: dict[tuple[str, str], _Winner] = {}  # (citizen, field) -> winner
        self.field_conflicts: set[tuple[str, str]] = set()  # open, (citizen, field)
        self.status_conflicts: set[str] = set()  # open, citizen

    # --- what goes in ----------------------------------------------------------------

    def push(
        self, device: str, items: list[dict], server_ms: int, *, flags: bool = True
    ) -> list[Answer]:
        """One push of valid items by ``device``, answered at the server's ``server_ms``.
        ``flags=False`` skips judging which items the answer flags (a bulk load's speed)."""
        suspected_before = self.suspected() if flags else set()
        answers, fresh = [], []
        for item in items:
            if item["id"] in self.subs:
                assert self.subs[item["id"]].content == item, "an id reused for new content"
                answers.append(Answer(duplicate=True))
                continue
            sub, suspect = self._stamp(device, item, server_ms)
            conflicted = item["form"] == "activation" and self.conflicted(sub.data["citizen_id"])
            self.subs[sub.id] = sub
            fresh.append(sub)
            if sub.form == "activation":
                self.by_citizen[sub.data["citizen_id"]].append(sub)
                self._arrive(sub, conflicted)
            answers.append(Answer(duplicate=False, flags={"clock_suspect"} if suspect else set()))
        doubles = self.suspected() - suspected_before if flags else set()
        for sub, answer in zip(fresh, [a for a in answers if not a.duplicate], strict=True):
            if sub.id in doubles:
                answer.flags.add("suspected_double")
        return answers

    def _stamp(self, device: str, item: dict, server_ms: int) -> tuple[Received, bool]:
        """Clocks more than five minutes ahead of the server are clamped to it and flagged."""
        recorded = datetime.fromisoformat(item["recorded_at"])
        recorded_ms = epoch_ms(recorded)
        if "hlc" in item:
            wall, counter = (int(part) for part in item["hlc"].split(":")[:2])
        else:
            wall, counter = recorded_ms, 0
        suspect = max(wall, recorded_ms) > server_ms + SKEW_MS
        if suspect:
            wall, recorded_ms = min(wall, server_ms), min(recorded_ms, server_ms)
        day = (EPOCH + timedelta(milliseconds=recorded_ms)).astimezone(self.zone).date()
        sub = Received(
            id=item["id"],
            form=item["form"],
            ward=item["org_unit"],
            device=device,
            clock=(wall, counter, device),
            day=day.isoformat(),
            data=item["data"],
            base_version=item.get("base_version") or 0,
            content=item,
        )
        return sub, suspect

    def _arrive(self, sub: Received, conflicted_before: bool) -> None:
        """A phone's activation write: field conflicts, then a status conflict if it made one.

        A write clashes when the phone had not seen the field's current value (its
        ``base_version`` is older than the version that value was written at), another writer
        wrote it, and the values differ. The winner is the highest clock either way.
        """
        citizen = sub.data["citizen_id"]
        self.version[citizen] += 1
        for name in FIELDS:
            if name not in sub.data:
                continue
            value, current = sub.data[name], self.winners.get((citizen, name))
            if (
                current is not None
                and sub.base_version < current.version
                and current.writer != sub.device
                and current.value != value
            ):
                self.field_conflicts.add((citizen, name))
            if current is None or sub.order > current.order:
                self.winners[(citizen, name)] = _Winner(
                    value, sub.order, sub.device, self.version[citizen]
                )
        if self.conflicted(citizen) and not conflicted_before:
            self.status_conflicts.add(citizen)

    def decide(self, gift_id: str, confirm: bool) -> None:
        assert gift_id in self.suspected(), "only an open suspected double is decided"
        self.decisions[gift_id] = confirm

    def correct(
        self, citizen: str, values: dict, correction_id: str, clock: Clock, settles=None
    ) -> None:
        """A lead's correction at the server's ``clock``; ``settles``: the review item it
        resolves, ``("status", citizen)`` or ``("field", citizen, name)``.

        The lead's value of a field takes the place of the value it settles: a phone that had
        seen that value is not stale against the lead.
        """
        day = (EPOCH + timedelta(milliseconds=clock[0])).astimezone(self.zone).date().isoformat()
        fields = {k: v for k, v in values.items() if k != "status"}
        fix = Correction(correction_id, clock, day, values.get("status"), fields)
        self.corrections[citizen].append(fix)
        self.version[citizen] += 1
        for name, value in fields.items():
            current = self.winners.get((citizen, name))
            if current is None or fix.order > current.order:
                version = current.version if current else 0
                self.winners[(citizen, name)] = _Winner(value, fix.order, "lead", version)
            self.field_conflicts.discard((citizen, name))
        if settles and settles[0] == "field":
            self.field_conflicts.discard(settles[1:])
        if (settles and settles[0] == "status") or not self.conflicted(citizen):
            self.status_conflicts.discard(citizen)

    # --- records -----------------------------------------------------------------------

    def reports(self, citizen: str) -> list[Received]:
        return sorted(self.by_citizen.get(citizen, []), key=lambda s: s.order)

    def citizens(self) -> list[str]:
        return sorted(self.by_citizen)

    def standing(self, citizen: str) -> tuple[int, set[str], Correction | None]:
        """The rung and negative outcomes in force, and the correction they start from.

        Without a correction: the highest rung ever reported and every outcome reported.
        A lead's correction of the status replaces all that was reported before it (by clock);
        what phones report after it moves on from there, as without one.
        """
        base = max(
            (c for c in self.corrections[citizen] if c.status), key=lambda c: c.order, default=None
        )
        top, negatives = 0, set()
        reports = self.reports(citizen)
        if base is not None:
            top = rung(base.status)
            negatives = {base.status} if base.status in NEGATIVES else set()
            reports = [r for r in reports if r.order > base.order]
        for report in reports:
            top = max(top, rung(report.data["status"]))
            if report.data["status"] in NEGATIVES:
                negatives.add(report.data["status"])
        return top, negatives, base

    def conflicted(self, citizen: str) -> bool:
        top, negatives, _ = self.standing(citizen)
        return top == rung("activated") and bool(negatives)

    def record(self, citizen: str) -> dict:
        top, negatives, _ = self.standing(citizen)
        # the contract's record always carries household_id, null until a report names one
        out = {
            "status": LADDER[top - 1] if top else None,
            "outcomes": sorted(negatives),
            "household_id": None,
        }
        for name in FIELDS:
            winner = self.winners.get((citizen, name))
            if winner is not None:
                out[name] = winner.value
        return out

    def ward_of(self, citizen: str) -> str:
        return self.reports(citizen)[0].ward

    # --- events ------------------------------------------------------------------------

    def live(self, form: str) -> list[Received]:
        """Events not void: a void wins, whether it came before or after its target."""
        voided = {s.data["target"] for s in self.subs.values() if s.form == "void"}
        return sorted(
            (s for s in self.subs.values() if s.form == form and s.id not in voided),
            key=lambda s: s.order,
        )

    def gift_standing(self) -> dict[str, str]:
        """counted / suspected / rejected for each live gift. Of one household's gifts of one
        kind in one round, the lowest clock (then id) counts; each other one counts once a
        lead confirms it, never once rejected, and is a suspected double until then."""
        groups = defaultdict(list)
        for gift in self.live("gift"):
            d = gift.data
            groups[(d["household_id"], d["gift_kind"], d["round"])].append(gift)
        standing = {}
        for gifts in groups.values():
            for i, gift in enumerate(gifts):  # already in clock order
                decision = self.decisions.get(gift.id)
                if i == 0 or decision is True:
                    standing[gift.id] = "counted"
                else:
                    standing[gift.id] = "rejected" if decision is False else "suspected"
        return standing

    def suspected(self) -> set[str]:
        return {sid for sid, s in self.gift_standing().items() if s == "suspected"}

    # --- progress ------------------------------------------------------------------------

    def counts(self) -> Counter:
        """Every metric but open_conflicts, as ``{(ward, metric, day): value}``."""
        out: Counter = Counter()
        for citizen in self.citizens():
            self._count_citizen(out, citizen)
        helped = {}
        for event in self.live("household_help"):
            hours = Decimal(str(event.data.get("hours", 0))) * event.data.get("volunteers", 1)
            out[(event.ward, "help_events", event.day)] += 1
            out[(event.ward, "volunteer_hours", event.day)] += hours
            helped.setdefault(event.data["household_id"], event)  # the earliest, by clock
        for event in helped.values():
            out[(event.ward, "households_helped", event.day)] += 1
        standing = self.gift_standing()
        for gift in self.live("gift"):
            if standing[gift.id] == "counted":
                out[(gift.ward, "gifts_delivered", gift.day)] += gift.data.get("count", 1)
                out[(gift.ward, "gift_value_vnd", gift.day)] += gift.data.get("value_vnd", 0)
            elif standing[gift.id] == "suspected":
                out[(gift.ward, "suspected_doubles", gift.day)] += 1
        return out

    def _count_citizen(self, out: Counter, citizen: str) -> None:
        """A ladder metric counts on the day of the earliest report (by clock) of that rung
        or a higher one; with both a rung and an outcome, the citizen counts in both."""
        reports = self.reports(citizen)
        ward = reports[0].ward
        top, negatives, base = self.standing(citizen)

        def day(reached) -> str:
            early = [r.day for r in reports if reached(r.data["status"])]
            return early[0] if early else base.day  # only the correction gave it

        out[(ward, "citizens_reached", reports[0].day)] += 1
        if top == rung("no_smartphone"):
            out[(ward, "no_smartphone", day(lambda s: rung(s) >= 2))] += 1
        if top >= rung("installed"):
            out[(ward, "accounts_installed", day(lambda s: rung(s) >= 3))] += 1
        if top == rung("activated"):
            out[(ward, "accounts_activated", day(lambda s: rung(s) == 4))] += 1
        for outcome in negatives:
            out[(ward, outcome, day(lambda s, o=outcome: s == o))] += 1

    def open_conflicts(self) -> Counter:
        """Open field and status conflicts, by the ward of their record."""
        out: Counter = Counter()
        for citizen, _name in self.field_conflicts:
            out[self.ward_of(citizen)] += 1
        for citizen in self.status_conflicts:
            out[self.ward_of(citizen)] += 1
        return out

    def in_subtree(self, ward: str, root: str) -> bool:
        unit = ward
        while unit is not None:
            if unit == root:
                return True
            unit = self.parents[unit]
        return False

    def children(self, unit: str) -> list[str]:
        return sorted(u for u, p in self.parents.items() if p == unit)

    def target(self, unit: str, metric: str) -> int | None:
        """A unit's own target, or the sum of its children's when any child has one."""
        if (unit, metric) in self.targets:
            return self.targets[(unit, metric)]
        below = [t for c in self.children(unit) if (t := self.target(c, metric)) is not None]
        return sum(below) if below else None

    def totals(self, unit: str) -> dict[str, dict]:
        values = Counter()
        for (ward, metric, _day), amount in self.counts().items():
            if self.in_subtree(ward, unit):
                values[metric] += amount
        values["open_conflicts"] = sum(
            n for ward, n in self.open_conflicts().items() if self.in_subtree(ward, unit)
        )
        out = {}
        for metric in METRICS:
            target = self.target(unit, metric)
            value = values[metric]
            percent = float(value) * 100 / target if target else None
            out[metric] = {"value": value, "target": target, "percent": percent}
        return out

    def daily(self, unit: str) -> dict[tuple[str, str], object]:
        """``{(day, metric): value}``, nonzero only, every metric but open_conflicts."""
        out: Counter = Counter()
        for (ward, metric, day), amount in self.counts().items():
            if self.in_subtree(ward, unit):
                out[(day, metric)] += amount
        return {k: v for k, v in out.items() if v}
