"""A month of the campaign, made up in the manner of the real one: every form a volunteer's
phone would have sent, and when it would have sent it.

Thuận An's weekends from 2023-07-29 to 2023-08-27, a wave of about 30 police youth union
volunteers a day spread over the ten wards by their targets. A volunteer's day: the morning at
the neighbourhood office, where people queue to have VNeID installed and activated, syncing on
the office's Wi-Fi when the queue leaves a moment (every hour or so: most keep mobile data off); a
sync at lunch; the afternoon door to door ("đi từng ngõ, gõ cửa từng nhà") with no signal,
sent on the way back; for some, an evening round for the factory workers who are only home
then, sent from home at night; a few phones only send the next Monday or the weekend after.
So a phone sends 4 to 8 batches a day, of a few to a few dozen forms.

Citizens climb the ladder over revisits by later waves (visited → installed → activated: an
account is activated once the police approved its level-2 registration, days after it was
installed), some have no smartphone and are helped later on a relative's or the volunteer's
phone, a few refuse or are not eligible. Each revisit carries the record version its phone had
pulled at its last sync, so two phones that met one citizen between syncs open a field
conflict, and a relative refusing at the door after an activation opens a status conflict.
Poor households get help (concrete yards, toilets, roads, roofs) and gifts; now and then two
phones deliver the same gift to one household (a suspected double), and a volunteer voids a
form entered twice or for the wrong household.

Pure and deterministic: one seeded ``random.Random``, no clock, no database. The loader
(``loader.py``) enrols the phones and pushes these batches through the real push path.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
import unicodedata
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from . import words
from .campaign import CAMPAIGN, WARDS

SEED = 2023
WAVE = 30
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
MINUTE = 60_000


def weekend_days(starts_on: date = CAMPAIGN[2], ends_on: date = CAMPAIGN[3]) -> list[date]:
    days, day = [], starts_on
    while day <= ends_on:
        if day.weekday() >= 5:
            days.append(day)
        day += timedelta(days=1)
    return days


DAYS = tuple(weekend_days())  # the ten weekend days of the campaign


@dataclass(frozen=True)
class Volunteer:
    username: str
    name: str
    ward: str
    day: date
    phone: str  # the device's name, as the volunteer typed it when enrolling


@dataclass
class Push:
    """One push: a volunteer's phone sends what it recorded since its last sync."""

    volunteer: int  # index into ``Month.volunteers``
    at_ms: int  # the server's clock when the push arrives
    items: list[dict]  # submissions, their ``hlc`` without the device id the phone adds

    def items_for(self, device_id: str) -> list[dict]:
        """The submissions as the phone sends them: its device id ends each clock stamp."""
        return [item | {"hlc": f"{item['hlc']}:{device_id}"} for item in self.items]


@dataclass
class Month:
    seed: int
    days: tuple[date, ...]
    volunteers: list[Volunteer]
    pushes: list[Push]  # in the order they arrive

    def forms(self) -> Counter:
        return Counter(item["form"] for push in self.pushes for item in push.items)

    def size(self) -> int:
        return sum(len(push.items) for push in self.pushes)


def plan(seed: int = SEED, wave: int = WAVE, days: int | None = None) -> Month:
    """The month: ``wave`` volunteers (about) on each of the first ``days`` weekend days."""
    chosen = DAYS if days is None else DAYS[:days]
    return _Simulation(random.Random(seed), wave, chosen).run(seed)


# --- the people and places ------------------------------------------------------------------


@dataclass
class Household:
    id: str
    ward: str
    address: str
    variant: str  # the same address as another volunteer types it
    members: list[Citizen] = field(default_factory=list)
    kids: int = 0  # schoolchildren, for the school-year gifts
    elder: str = "Tư"  # how the neighbours call its eldest


@dataclass
class Citizen:
    cid: str
    household: Household
    status: str | None = None  # the last result recorded for them
    due: int | None = None  # the day index a follow-up is due
    day: int = 0  # the day index of their last visit


@dataclass
class Draft:
    """A form as recorded, before it is sent: its true time and its phone."""

    at_ms: int
    shift: Shift
    sub: dict
    void_of: Draft | None = None


@dataclass
class Shift:
    """One volunteer's day."""

    volunteer: int
    ward: str
    day: int
    start: int  # ms: the phone's first pull of the day
    office_end: int
    door_start: int
    door_end: int
    evening: tuple[int, int] | None
    skew_ms: int  # how far the phone's clock runs ahead
    pace: float
    syncs: list[int] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)


def _ascii(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    stripped = unicodedata.normalize("NFD", text)
    return "".join(c for c in stripped if not unicodedata.combining(c)).lower()


def _number(value: float) -> int | float:
    """As a phone's JSON writes it: 4, not 4.0."""
    return int(value) if float(value).is_integer() else value


def _at(day: date, hour: int, minute: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).timestamp()) * 1000


class _Simulation:
    def __init__(self, rng: random.Random, wave: int, days: tuple[date, ...]):
        self.rng = rng
        self.wave = wave
        self.days = days
        self.volunteers: list[Volunteer] = []
        self.usernames: set[str] = set()
        self.citizen_ids: set[str] = set()
        self.stamps: set[int] = set()
        self.desks: list[tuple] = []  # the day's office visits a second desk may follow
        self.households: dict[str, list[Household]] = defaultdict(list)
        self.due: dict[str, list[tuple[int, int, Citizen]]] = defaultdict(list)  # heaps
        self.order = itertools.count()
        self.activated: dict[str, list[Citizen]] = defaultdict(list)
        self.poor: dict[str, list[Household]] = {}
        self.gift_plans: dict[str, dict[str, list[Household]]] = {}
        self.weight = {code: target for code, _, target in WARDS}
        mean = sum(self.weight.values()) / len(WARDS)
        # Some wards' teams simply get more done (more people at the office, shorter alleys).
        self.drive = {code: rng.uniform(0.85, 1.15) for code, _, _ in WARDS}
        for code, _, _ in WARDS:
            count = max(3, round(40 * self.weight[code] / mean))
            self.poor[code] = [self._household(code, poor=True) for _ in range(count)]

    # --- ids and names -------------------------------------------------------------------

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def weighted(self, pairs):
        names, weights = zip(*pairs, strict=True)
        return self.rng.choices(names, weights)[0]

    def person(self) -> tuple[str, str]:
        """A young volunteer's name and username (``tnv-khoa.nguyen``)."""
        rng = self.rng
        family = self.weighted(words.FAMILY_NAMES)
        if rng.random() < 0.55:
            middle, given = rng.choice(words.MIDDLE_MALE), rng.choice(words.GIVEN_MALE)
        else:
            middle, given = rng.choice(words.MIDDLE_FEMALE), rng.choice(words.GIVEN_FEMALE)
        base = f"tnv-{_ascii(given)}.{_ascii(family)}"
        username, n = base, 1
        while username in self.usernames:
            n += 1
            username = f"{base}{n}"
        self.usernames.add(username)
        return f"{family} {middle} {given}", username

    def citizen_id(self) -> str:
        """12 digits: province of registration, century and sex, year of birth, then six."""
        rng = self.rng
        while True:
            born = rng.choice((rng.randint(1935, 1975), rng.randint(1960, 2009)))
            century = (0 if born < 2000 else 2) + rng.randint(0, 1)
            cid = f"{self.weighted(words.PROVINCE_CODES)}{century}{born % 100:02d}"
            cid += f"{rng.randint(0, 999_999):06d}"
            if cid not in self.citizen_ids:
                self.citizen_ids.add(cid)
                return cid

    def _household(self, ward: str, poor: bool = False) -> Household:
        rng = self.rng
        place = words.PLACES[ward]
        areas, streets = place["areas"].split("|"), place["streets"].split("|")
        area = rng.choice(areas)
        hamlet = ward == "TA-ANSON"
        area_long = f"ấp {area}" if hamlet else f"khu phố {area}"
        area_short = f"ấp {area}" if hamlet else f"KP {area}"
        if rng.random() < 0.55:
            street = f"{place['roads']} {rng.randint(1, 80):02d}"
        else:
            street = rng.choice(streets)
        number = f"{rng.randint(1, 250)}"
        if rng.random() < 0.5:
            number += f"/{rng.randint(1, 40)}"
        if not poor and rng.random() < 0.25:  # a workers' boarding house
            room = rng.randint(1, 24)
            address = f"phòng {room}, dãy trọ {number} {street}, {area_long}"
            variant = f"P.{room} nhà trọ {number} {street}, {area_short}"
        else:
            address = f"số {number} đường {street}, {area_long}"
            if street.startswith("Đường ") or street.startswith("Đại lộ"):
                address = f"số {number} {street}, {area_long}"
            variant = f"{number} {street.removeprefix('Đường ')} {area_short}"
        household = Household(self.uuid(), ward, address, variant)
        household.kids = rng.choice((0, 0, 1, 1, 2, 3))
        household.elder = rng.choice(words.BIRTH_ORDER)
        return household

    def new_household(self, ward: str) -> Household:
        household = self._household(ward)
        size = self.rng.choices((1, 2, 3, 4, 5), (22, 30, 24, 16, 8))[0]
        household.members = [Citizen(self.citizen_id(), household) for _ in range(size)]
        self.households[ward].append(household)
        return household

    def stamp(self, ms: int) -> int:
        """A unique moment, so no two forms anywhere tie on the clock."""
        ms += self.rng.randint(0, 999)
        while ms in self.stamps:
            ms += 1
        self.stamps.add(ms)
        return ms

    # --- the days ------------------------------------------------------------------------

    def run(self, seed: int) -> Month:
        shifts: list[Shift] = []
        for index, day in enumerate(self.days):
            shifts += self.day(index, day)
        pushes = self.send(shifts)
        return Month(seed, self.days, self.volunteers, pushes)

    def allocate(self, size: int) -> dict[str, int]:
        """Largest remainder: each ward's share of the day's wave, by its target."""
        total = sum(self.weight.values())
        quotas = {code: size * w / total for code, w in self.weight.items()}
        counts = {code: math.floor(q) for code, q in quotas.items()}
        left = size - sum(counts.values())
        for code in sorted(quotas, key=lambda c: counts[c] - quotas[c])[:left]:
            counts[code] += 1
        return counts

    def day(self, index: int, day: date) -> list[Shift]:
        rng = self.rng
        size = self.wave + (rng.randint(-2, 2) if self.wave >= 10 else 0)
        shifts, teams, self.desks = [], [], []
        for ward, count in self.allocate(size).items():
            team = [self.shift(index, day, ward) for _ in range(count)]
            if team:
                self.office(team)
                self.doors(team, index)
                self.poor_households(team, index, day)
                teams.append(team)
            shifts += team
        # The day's few scenes a lead will have to settle: about one in twenty volunteers
        # meets a citizen who then asks at a second desk, one in thirty a relative who
        # refuses at the door for a citizen activated before.
        desks = self.rng.sample(self.desks, min(len(self.desks), max(1, round(size / 20))))
        for team, i, at, citizen in desks:
            self.second_desk(team, i, at, citizen)
        doors = [t for t in teams if any(c.day < index for c in self.activated[t[0].ward])]
        for team in self.rng.sample(doors, min(len(doors), max(1, round(size / 30)))):
            self.refused_later(team, index)
        for shift in shifts:
            self.plan_syncs(shift, day)
        return shifts

    def shift(self, index: int, day: date, ward: str) -> Shift:
        rng = self.rng
        name, username = self.person()
        owner = name.split()[-1]
        self.volunteers.append(
            Volunteer(username, name, ward, day, f"{rng.choice(words.PHONES)} của {owner}")
        )
        start = _at(day, 7) + rng.randint(0, 45) * MINUTE
        evening = None
        if rng.random() < 0.4:
            begin = _at(day, 18, 30) + rng.randint(0, 20) * MINUTE
            evening = (begin, begin + rng.randint(80, 120) * MINUTE)
        skew = rng.randint(-20_000, 20_000)
        if rng.random() < 1 / 60:  # the date and time set by hand, two hours ahead
            skew = 2 * 3600_000 + rng.randint(0, 600_000)
        return Shift(
            volunteer=len(self.volunteers) - 1,
            ward=ward,
            day=index,
            start=start,
            office_end=_at(day, 11, 15) + rng.randint(0, 30) * MINUTE,
            door_start=_at(day, 13, 30) + rng.randint(0, 30) * MINUTE,
            door_end=_at(day, 17) + rng.randint(0, 20) * MINUTE,
            evening=evening,
            skew_ms=skew,
            # The first weekend is slower: the forms, the app, the people are new to them.
            pace=rng.uniform(0.75, 1.25) * self.drive[ward] * (0.8 if index < 2 else 1.0),
        )

    # --- activations ---------------------------------------------------------------------

    def record(self, shift: Shift, at: int, data: dict, form: str = "activation") -> Draft:
        sub = {
            "id": self.uuid(),
            "form": form,
            "form_version": 1,
            "campaign": CAMPAIGN[0],
            "org_unit": shift.ward,
            "data": data,
        }
        draft = Draft(self.stamp(at), shift, sub)
        shift.drafts.append(draft)
        return draft

    def note(self, text: str, household: Household) -> str:
        return text.replace("{ord}", household.elder)

    def visit(self, shift: Shift, at: int, citizen: Citizen, *, door: bool) -> int:
        """Record one citizen's visit; returns the time it ended. Schedules the follow-up."""
        rng = self.rng
        before = citizen.status
        if before is None:
            status = rng.choices(
                ("visited", "no_smartphone", "installed", "activated", "refused", "ineligible"),
                (18 if door else 8, 8, 38, 28, 3, 5),
            )[0]
        elif before == "visited":
            status = rng.choices(
                ("installed", "activated", "no_smartphone", "visited", "refused"),
                (45, 30, 10, 10, 5),
            )[0]
        elif before == "installed":
            status = rng.choices(("activated", "installed"), (85, 15))[0]
        else:  # no_smartphone: a relative's phone, or the volunteer's own
            status = rng.choices(("activated", "installed", "no_smartphone"), (45, 20, 35))[0]
        household = citizen.household
        data: dict = {"citizen_id": citizen.cid, "status": status, "household_id": household.id}
        data["household_address"] = household.address
        owner = None
        if status in ("installed", "activated"):
            if before == "no_smartphone":
                owner = rng.choice(("family", "volunteer"))
            else:
                owner = rng.choices(("self", "family", "volunteer"), (84, 11, 5))[0]
            data["phone_owner"] = owner
        if owner in ("family", "volunteer") and before == "no_smartphone":
            data["note"] = rng.choice(words.FOLLOW_UP_NOTES[owner])
        elif rng.random() < (0.6 if status in ("visited", "no_smartphone") else 0.25):
            data["note"] = self.note(rng.choice(words.ACTIVATION_NOTES[status]), household)
        if status == "activated" and before is None and rng.random() < 0.12:
            # installed first, activated once the text message came: two forms, one phone
            first = dict(data, status="installed")
            first.pop("note", None)
            self.record(shift, at, first)
            at += rng.randint(3, 9) * MINUTE
        self.record(shift, at, data)
        citizen.status, citizen.due, citizen.day = status, None, shift.day
        chance, wait = {
            "visited": (0.55, (1, 1, 2, 3)),
            "installed": (0.75, (1, 2, 2, 3)),
            "no_smartphone": (0.45, (1, 2, 3, 4)),
        }.get(status, (0, ()))
        if rng.random() < chance:
            self.wait(citizen, shift.day + rng.choice(wait))
        if status == "activated":
            self.activated[shift.ward].append(citizen)
        return at + rng.randint(1, 3) * MINUTE

    def wait(self, citizen: Citizen, due: int) -> None:
        citizen.due = due
        heapq.heappush(self.due[citizen.household.ward], (due, next(self.order), citizen))

    def due_today(self, ward: str, day: int) -> Citizen | None:
        """The citizen whose follow-up has waited longest, if one is due by ``day``."""
        waiting = self.due[ward]
        while waiting:
            due, _, citizen = waiting[0]
            if citizen.due != due:  # seen again since, or waiting for another day now
                heapq.heappop(waiting)
            elif due <= day:
                heapq.heappop(waiting)
                return citizen
            else:
                return None
        return None

    def office(self, team: list[Shift]) -> None:
        """The morning at the neighbourhood office: people come in ones, twos and threes; now
        and then one asks at a second desk, before either phone synced."""
        rng = self.rng
        queue = [(s.start + rng.randint(5, 15) * MINUTE, i) for i, s in enumerate(team)]
        heapq.heapify(queue)
        while queue:
            at, i = heapq.heappop(queue)
            shift = team[i]
            if at >= shift.office_end:
                continue
            follow = self.due_today(shift.ward, shift.day) if rng.random() < 0.3 else None
            if follow is not None:
                people = [follow]
            else:
                household = self.new_household(shift.ward)
                come = rng.choices((1, 2, 3), (60, 30, 10))[0]
                people = household.members[:come]
            for citizen in people:
                at = self.visit(shift, at, citizen, door=False)
            if len(team) > 1 and people[0].status in ("visited", "installed"):
                self.desks.append((team, i, at, people[0]))  # where a second desk may come
            gap = rng.expovariate(1 / (4.2 * MINUTE)) / shift.pace
            heapq.heappush(queue, (at + int(gap), i))

    def second_desk(self, team: list[Shift], i: int, at: int, citizen: Citizen) -> None:
        """The same citizen, minutes later, at another volunteer's desk: the son's phone, and
        a note of their own. Neither phone had the other's form yet: a field conflict."""
        other = self.rng.choice([s for j, s in enumerate(team) if j != i])
        if at + 15 * MINUTE >= other.office_end:
            return
        household = citizen.household
        data = {
            "citizen_id": citizen.cid,
            "status": "activated",
            "household_id": household.id,
            "household_address": household.variant,
            "phone_owner": "family",
            "note": words.FOLLOW_UP_NOTES["family"][0],
        }
        self.record(other, at + self.rng.randint(3, 12) * MINUTE, data)
        if citizen.status != "activated":
            self.activated[other.ward].append(citizen)
        citizen.status, citizen.due, citizen.day = "activated", None, other.day

    def doors(self, team: list[Shift], day: int) -> None:
        """Door to door: the afternoon, and the evening round for those who stay."""
        rng = self.rng
        for shift in team:
            rounds = [(shift.door_start, shift.door_end)]
            if shift.evening:
                rounds.append(shift.evening)
            for begin, end in rounds:
                at = begin
                while at < end:
                    follow = self.due_today(shift.ward, day) if rng.random() < 0.35 else None
                    if follow is not None:
                        people = [follow]
                    else:
                        people = self.new_household(shift.ward).members
                    for citizen in people:
                        if citizen.status is None and rng.random() < 0.2:
                            continue  # at work: the household is told to come to the office
                        at = self.visit(shift, at, citizen, door=True)
                    at += int(rng.expovariate(1 / (7 * MINUTE)) / shift.pace) + 2 * MINUTE

    def refused_later(self, team: list[Shift], day: int) -> None:
        """A relative at the door refuses for a citizen activated on an earlier day: a status
        conflict (an activated account and a refusal) for the lead."""
        rng = self.rng
        shift = rng.choice(team)
        citizen = rng.choice([c for c in self.activated[shift.ward] if c.day < day])
        data = {
            "citizen_id": citizen.cid,
            "status": "refused",
            "household_id": citizen.household.id,
            "note": self.note(rng.choice(words.REFUSED_LATER), citizen.household),
        }
        self.record(shift, rng.randint(shift.door_start, shift.door_end), data)

    # --- poor households: help and gifts --------------------------------------------------

    def poor_households(self, team: list[Shift], index: int, day: date) -> None:
        ward = team[0].ward
        self.help(team, ward)
        plans = self.gift_plans.setdefault(ward, self.gift_plan(ward))
        for kind, (first, last) in GIFT_WINDOWS.items():
            if not (first <= day <= last) or not plans.get(kind):
                continue
            left_days = sum(1 for d in self.days[index:] if first <= d <= last)
            take = math.ceil(len(plans[kind]) / left_days * self.rng.uniform(0.8, 1.2))
            batch, plans[kind] = plans[kind][:take], plans[kind][take:]
            self.deliver(team, kind, batch)

    def gift_plan(self, ward: str) -> dict[str, list[Household]]:
        rng = self.rng
        poor = list(self.poor[ward])
        rng.shuffle(poor)
        with_kids = [h for h in poor if h.kids]
        return {
            "qua-ho-ngheo": list(poor),
            "gao": rng.sample(poor, int(len(poor) * 0.6)),
            "sach-vo": with_kids,
            "xe-dap": rng.sample(with_kids, max(1, len(with_kids) // 12)) if with_kids else [],
        }

    def gift(self, shift: Shift, at: int, household: Household, kind: str, **extra) -> Draft:
        rng = self.rng
        round_, (low, high), step = words.GIFTS[kind]
        count = {"sach-vo": max(1, household.kids), "gao": rng.choice((1, 1, 1, 2))}.get(kind, 1)
        unit = low + step * rng.randint(0, (high - low) // step)
        data = {
            "household_id": household.id,
            "household_address": household.address,
            "gift_kind": kind,
            "round": round_,
            "count": count,
            "value_vnd": unit * count,
            "donor": rng.choice(words.DONORS),
        }
        note = rng.choice(words.GIFT_NOTES[kind])
        if note and rng.random() < 0.5:
            data["note"] = self.note(note, household)
        return self.record(shift, at, data | extra, "gift")

    def deliver(self, team: list[Shift], kind: str, households: list[Household]) -> None:
        """An afternoon's round of gifts by one or two of the ward's team."""
        rng = self.rng
        carriers = rng.sample(team, min(len(team), rng.choice((1, 2))))
        clocks = {id(s): s.door_start + rng.randint(0, 60) * MINUTE for s in carriers}
        for n, household in enumerate(households):
            shift = carriers[n % len(carriers)]
            at = clocks[id(shift)]
            clocks[id(shift)] += rng.randint(6, 15) * MINUTE
            roll = rng.random()
            if roll < 0.015:  # a zero too many, voided and entered again
                wrong = self.gift(shift, at, household, kind)
                wrong.sub["data"]["value_vnd"] *= 10
                self.void_later(wrong, "wrong_value", redo=True)
            elif roll < 0.03:  # entered for the neighbours' household
                wrong = self.gift(shift, at, self.rng.choice(self.poor[shift.ward]), kind)
                self.void_later(wrong, "wrong_household", redo=household)
            else:
                self.gift(shift, at, household, kind)
            if len(team) > 1 and rng.random() < 0.025:
                # the household was on two lists: another phone delivers it again, unsynced
                other = rng.choice([s for s in team if s is not shift])
                later = max(at, other.door_start) + rng.randint(10, 90) * MINUTE
                self.gift(other, min(later, other.door_end), household, kind)

    def help(self, team: list[Shift], ward: str) -> None:
        rng = self.rng
        mean = sum(self.weight.values()) / len(self.weight)
        expected = 1.3 * self.weight[ward] / mean
        jobs = int(expected) + (rng.random() < expected - int(expected))
        for _ in range(jobs):
            shift = rng.choice(team)
            household = rng.choice(self.poor[ward])
            kind, unit, (qlow, qhigh), (vlow, vhigh), (hlow, hhigh), notes = rng.choice(words.HELP)
            quantity = rng.randint(qlow, qhigh)
            if unit == "m2" and rng.random() < 0.3:
                quantity += 0.5
            data = {
                "household_id": household.id,
                "household_address": household.address,
                "kind": kind,
                "quantity": quantity,
                "unit": unit,
                "volunteers": rng.randint(vlow, vhigh),
                "hours": _number(rng.randint(hlow * 2, hhigh * 2) / 2),
                "note": self.note(rng.choice(notes), household),
            }
            at = shift.door_start + rng.randint(60, 200) * MINUTE
            done = self.record(shift, at, data, "household_help")
            if kind == "sanitation" and unit == "item":  # the toilet the team built
                self.gift(shift, at + 2 * MINUTE, household, "bon-cau")
            if rng.random() < 0.08:  # saved twice; the second is voided from the sent list
                again = done.at_ms + rng.randint(1, 3) * MINUTE
                self.void_later(self.record(shift, again, data, "household_help"), "twice")

    def void_later(self, target: Draft, why: str, redo: bool | Household = False) -> None:
        """Voided from the phone's sent list after its next sync (``send`` places it)."""
        sub = {
            "id": self.uuid(),
            "form": "void",
            "form_version": 1,
            "campaign": CAMPAIGN[0],
            "org_unit": target.shift.ward,
            "data": {"target": target.sub["id"], "reason": words.VOID_REASONS[why]},
        }
        void = Draft(0, target.shift, sub, void_of=target)
        target.shift.drafts.append(void)
        if redo:
            data = dict(target.sub["data"])
            if isinstance(redo, Household):
                data |= {"household_id": redo.id, "household_address": redo.address}
            else:
                data["value_vnd"] //= 10
            void.sub["redo"] = data

    # --- syncing -------------------------------------------------------------------------

    def plan_syncs(self, shift: Shift, day: date) -> None:
        rng = self.rng
        # Most volunteers keep mobile data off: the office's Wi-Fi, when the queue leaves a
        # moment, then lunch, perhaps a café, the way back, home.
        syncs, at = [], shift.start + rng.randint(40, 90) * MINUTE
        while at < shift.office_end:
            syncs.append(at)
            at += rng.randint(50, 100) * MINUTE
        syncs.append(shift.office_end + rng.randint(15, 60) * MINUTE)  # lunch
        if rng.random() < 0.4:  # a café's Wi-Fi, mid-afternoon
            syncs.append(rng.randint(shift.door_start + 60 * MINUTE, shift.door_end - 30 * MINUTE))
        syncs.append(shift.door_end + rng.randint(10, 40) * MINUTE)  # back at the office
        home = shift.evening[1] if shift.evening else shift.door_end
        last = home + rng.randint(30, 120) * MINUTE
        roll = rng.random()
        if roll < 0.03:  # no data left: sent on Monday evening
            monday = day + timedelta(days=7 - day.weekday())
            last = _at(monday, 19) + rng.randint(0, 120) * MINUTE
        elif roll < 0.04:  # forgotten until the next weekend's briefing
            last = _at(day + timedelta(days=7), 7) + rng.randint(0, 40) * MINUTE
        syncs.append(last)
        shift.syncs = sorted(self.stamp(s) for s in syncs)

    def send(self, shifts: list[Shift]) -> list[Push]:
        """Cut every phone's forms into its pushes, put all pushes in arrival order, then give
        each activation the record version its phone had pulled at its last sync."""
        pushes: list[tuple[int, Shift, list[Draft]]] = []
        for shift in shifts:
            self.place_voids(shift)
            drafts = sorted(shift.drafts, key=lambda d: d.at_ms)
            batches: dict[int, list[Draft]] = defaultdict(list)
            for draft in drafts:
                k = bisect.bisect_left(shift.syncs, draft.at_ms)
                if k == len(shift.syncs):
                    shift.syncs.append(self.stamp(draft.at_ms + MINUTE))
                batches[shift.syncs[k]].append(draft)
            pushes += [(at, shift, batches[at]) for at in shift.syncs if batches[at]]
        pushes.sort(key=lambda p: p[0])
        versions: dict[str, list[tuple[int, int]]] = defaultdict(list)  # cid -> (at, version)
        out = []
        for at, shift, drafts in pushes:
            items = [self.submission(shift, d, versions) for d in drafts]
            for item in items:
                if item["form"] == "activation":
                    history = versions[item["data"]["citizen_id"]]
                    history.append((at, (history[-1][1] if history else 0) + 1))
            out.append(Push(shift.volunteer, at, items))
        return out

    def place_voids(self, shift: Shift) -> None:
        """A void is made from the sent list: a few minutes after its target's sync. A form
        entered again after the void goes in beside it."""
        for void in [d for d in shift.drafts if d.void_of is not None]:
            target = void.void_of
            k = bisect.bisect_left(shift.syncs, target.at_ms)
            sent = shift.syncs[k] if k < len(shift.syncs) else target.at_ms + MINUTE
            void.at_ms = self.stamp(sent + self.rng.randint(2, 15) * MINUTE)
            redo = void.sub.pop("redo", None)
            if redo is not None:
                sub = dict(target.sub, id=self.uuid(), data=redo)
                shift.drafts.append(Draft(self.stamp(void.at_ms + MINUTE), shift, sub))

    def submission(self, shift: Shift, draft: Draft, versions: dict) -> dict:
        sub = dict(draft.sub)
        phone_ms = draft.at_ms + shift.skew_ms
        moment = datetime.fromtimestamp(phone_ms / 1000, ZONE)
        sub["recorded_at"] = moment.isoformat(timespec="milliseconds")
        sub["hlc"] = f"{phone_ms}:0"
        if sub["form"] == "activation":
            # What the phone had pulled: the record's version at its last sync before this.
            k = bisect.bisect_right(shift.syncs, draft.at_ms)
            seen_at = shift.syncs[k - 1] if k else shift.start
            history = versions.get(sub["data"]["citizen_id"], [])
            j = bisect.bisect_right(history, (seen_at, math.inf))
            if j:
                sub["base_version"] = history[j - 1][1]
        return {k: sub[k] for k in SUBMISSION_KEYS if k in sub}


SUBMISSION_KEYS = (
    "id",
    "form",
    "form_version",
    "campaign",
    "org_unit",
    "recorded_at",
    "hlc",
    "base_version",
    "data",
)

# When each gift goes out: food in the first weeks, school things before the school year.
GIFT_WINDOWS = {
    "qua-ho-ngheo": (date(2023, 7, 29), date(2023, 8, 20)),
    "gao": (date(2023, 8, 5), date(2023, 8, 20)),
    "sach-vo": (date(2023, 8, 19), date(2023, 8, 27)),
    "xe-dap": (date(2023, 8, 26), date(2023, 8, 27)),
}
