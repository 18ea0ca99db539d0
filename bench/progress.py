"""Progress page latency: a ward, a city and the whole country, as submissions grow.

Builds 1,000 wards (country > 10 provinces > 10 cities > 10 wards), loads submissions straight
into the ``submissions`` table (activations of distinct citizens, household help, gifts with
distinct keys, so every row's contribution is plain), derives ``counters`` and ``rollups``
from them with one GROUP BY each (the same numbers the push path keeps by deltas; on
PostgreSQL spread over ``--shards`` counter shards, as concurrent pushes leave them), gives
every ward targets and derives ``target_rollups`` from them, ANALYZEs (autovacuum is off on
the development machine), then times ``GET /api/v1/progress?daily=1`` for a ward, a city and
the country on a real gunicorn server beside the same totals computed by a GROUP BY over the
raw submissions of the subtree. The first answer for each unit must equal the totals of the
tests' independent model of the contract (tests/model.py), told every form as a phone would
have sent it, and the targets reckoned apart; the run stops if not.

With ``--pages``, the rows are sent by ``--devices`` volunteers' phones (a tenth of them quiet
for two days), ``--city-share`` of them into the ten wards of city P3C4, and a lead of that
city logs in to the pages: the progress page (``GET /``: totals, units below, the chart, the
quiet phones, the downloads) and the volunteer table (``GET /volunteers``: a GROUP BY over the
city's submissions) are timed for the city, with the figures the page shows checked against
the API's first.

Run: ``.venv/bin/python -m bench.progress --backend postgresql --sizes 100000 1000000``;
the lead's pages for a city at a million forms:
``.venv/bin/python -m bench.progress --sizes 1000000 --pages --city-share 1 --devices 300``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import insert, select, text
from sqlalchemy.orm import aliased

from bench.common import ROOT, fresh_database, percentile, server
from bench.preload import analyze
from sync.accounts import users
from sync.accounts.passwords import hash_password
from sync.admin import campaigns, orgunits
from sync.db import make_engine, make_session_factory
from sync.models import Device, OrgUnit, Submission, Target, TokenFamily, User

sys.path.insert(0, str(ROOT / "tests"))
from model import Model  # noqa: E402 - the tests' independent model of the contract

REQUESTS = 200
CITY = "P3C4"
STATUS_METRICS = {
    "visited": [],
    "no_smartphone": ["no_smartphone"],
    "installed": ["accounts_installed"],
    "activated": ["accounts_installed", "accounts_activated"],
    "refused": ["refused"],
}


def build_tree(session) -> list[OrgUnit]:
    orgunits.create(session, "VN", "Việt Nam", None)
    wards = []
    for p in range(10):
        orgunits.create(session, f"P{p}", f"Tỉnh {p}", "VN")
        for c in range(10):
            orgunits.create(session, f"P{p}C{c}", f"Thành phố {p}.{c}", f"P{p}")
            for w in range(10):
                wards.append(
                    orgunits.create(session, f"P{p}C{c}W{w}", f"Phường {p}.{c}.{w}", f"P{p}C{c}")
                )
    return wards


def build_campaign(session) -> tuple[list[OrgUnit], int]:
    """The 1,000 wards, campaign ``bench``, an admin and the device the rows are loaded as."""
    wards = build_tree(session)
    campaign = campaigns.create(session, "bench", "Bench", date(2023, 7, 29), date(2023, 8, 27))
    admin = users.create(session, "admin", "admin")
    session.add(TokenFamily(id="bench", user_id=admin.id))
    session.flush()
    session.add(Device(id="bench-device", user_id=admin.id, family_id="bench", name="bench"))
    return wards, campaign.id


def load_submissions(
    session,
    campaign_id,
    device_id,
    wards,
    start,
    count,
    rnd,
    shares=(0.7, 0.85),
    extra=None,
    model=None,
    vary=None,
    devices: list[str] | None = None,
    city: list[OrgUnit] | None = None,
    city_share: float = 0.0,
) -> None:
    """``shares``: the cumulative shares of activations and household help; the rest gifts.
    ``extra``: more fields for each activation's data; ``vary(n, rnd)``: a row's own values of
    them. ``model``: an independent model of the contract (tests/model.py) told every form as
    a phone would have sent it, to check the totals against. ``devices``: the phones the rows
    are spread over (row ``n`` from ``devices[n % len]``; every tenth phone last pushed two days
    ago); ``city``: wards that get ``city_share`` of the rows."""
    rows, bodies = [], []
    day0 = date(2023, 7, 29)
    now = datetime.now(UTC)
    quiet_ones = set(devices[::10]) if devices else set()
    for n in range(start, start + count):
        ward = wards[n % len(wards)]
        if city and rnd.random() < city_share:
            ward = city[n % len(city)]
        sender = devices[n % len(devices)] if devices else device_id
        quiet = sender in quiet_ones
        day = day0 + timedelta(days=n % 30)
        roll = rnd.random()
        row = {
            "id": str(uuid.UUID(int=n + 1)),
            "seq": n + 2,
            "campaign_id": campaign_id,
            "org_unit_id": ward.id,
            "device_id": sender,
            "received_at": now - timedelta(days=2 if quiet else 0, hours=1),
            "form_version": 1,
            "recorded_at": datetime(day.year, day.month, day.day, 3, tzinfo=UTC),
            "day": day,
            "hlc": f"{n:015d}:000000000:{sender}",
            "base_version": 0,
            "content_hash": f"{n:064d}",
            "household_id": None,
            "record_id": None,
            "business_key": None,
            "void_target": None,
            "voided": False,
            "double_decision": None,
            "result": {"status": "applied"},
        }
        sent = {}
        if roll < shares[0]:
            status = rnd.choice(list(STATUS_METRICS))
            fields = {**(extra or {}), **(vary(n, rnd) if vary else {})}
            row.update(
                form="activation",
                data={"citizen_id": f"*********{n % 1000:03d}", "status": status, **fields},
            )
            sent = {"citizen_id": f"{n:012d}", "status": status, **fields}  # distinct citizens
        elif roll < shares[1]:
            row.update(
                form="household_help",
                household_id=str(uuid.UUID(int=10**12 + n)),
                data={"kind": "cleanup", "volunteers": 2, "hours": "1.5"},
            )
            sent = {"household_id": row["household_id"], "kind": "cleanup", "volunteers": 2}
            sent["hours"] = 1.5
        else:
            row.update(
                form="gift",
                business_key=f"g{n}",
                data={"gift_kind": "pack", "round": "r", "count": 1, "value_vnd": 500000},
            )
            sent = {"household_id": str(uuid.UUID(int=2 * 10**12 + n)), "gift_kind": f"g{n}"}
            sent |= {"round": "r", "count": 1, "value_vnd": 500000}
        rows.append(row)
        if model is not None:
            bodies.append(_body(row, ward.code, sent))
        if len(rows) == 5000:
            session.execute(insert(Submission.__table__), rows)
            _tell(model, device_id, bodies)
            rows, bodies = [], []
    if rows:
        session.execute(insert(Submission.__table__), rows)
        _tell(model, device_id, bodies)


def _body(row: dict, ward: str, data: dict) -> dict:
    return {
        "id": row["id"],
        "form": row["form"],
        "org_unit": ward,
        "recorded_at": row["recorded_at"].isoformat(),
        "hlc": row["hlc"],
        "data": data,
    }


def _tell(model, device_id: str, bodies: list[dict]) -> None:
    if model is not None and bodies:
        model.push(device_id, bodies, 4_102_444_800_000, flags=False)  # the server in 2100


def derive_counters(session, dialect: str, shards: int = 1) -> None:
    """Counters, rollups and the phones' tallies from the plain rows above, by GROUP BY (see
    the module docstring).

    Each row counts into shard ``seq // 1000 % shards`` (``sync.counters``: concurrent writers add
    into different shards, and a key's value is the sum of its shards), so with ``shards`` > 1
    a reader sums several rows per key, as it does after concurrent pushes.
    """
    status = "json_extract(data, '$.status')" if dialect == "sqlite" else "(data::json->>'status')"
    shard = f"((seq / 1000) % {int(shards)})"  # not seq % shards: 1,000 wards, n % 1000
    session.execute(text("DELETE FROM counters"))
    session.execute(text("DELETE FROM rollups"))
    parts = [
        f"SELECT campaign_id, org_unit_id, 'citizens_reached' AS metric, day, {shard} AS shard, "
        "COUNT(*) AS v FROM submissions WHERE form = 'activation' GROUP BY 1, 2, 3, 4, 5"
    ]
    for name, metrics in STATUS_METRICS.items():
        for metric in metrics:
            parts.append(
                f"SELECT campaign_id, org_unit_id, '{metric}', day, {shard}, COUNT(*) "
                f"FROM submissions WHERE form = 'activation' AND {status} = '{name}' "
                "GROUP BY 1, 2, 3, 4, 5"
            )
    for metric, expr, form in (
        ("help_events", "COUNT(*)", "household_help"),
        ("households_helped", "COUNT(*)", "household_help"),
        ("volunteer_hours", "COUNT(*) * 300", "household_help"),
        ("gifts_delivered", "COUNT(*)", "gift"),
        ("gift_value_vnd", "COUNT(*) * 500000", "gift"),
    ):
        parts.append(
            f"SELECT campaign_id, org_unit_id, '{metric}', day, {shard}, {expr} FROM submissions "
            f"WHERE form = '{form}' GROUP BY 1, 2, 3, 4, 5"
        )
    session.execute(
        text(
            "INSERT INTO counters (campaign_id, org_unit_id, metric, day, shard, value) "
            "SELECT campaign_id, org_unit_id, metric, day, shard, SUM(v) FROM ("
            + " UNION ALL ".join(parts)
            + ") AS t GROUP BY 1, 2, 3, 4, 5"
        )
    )
    # The volunteer table reads these (sync.progress.tallies).
    session.execute(text("DELETE FROM device_tallies"))
    session.execute(
        text(
            "INSERT INTO device_tallies "
            "(campaign_id, org_unit_id, device_id, form, stored, rejected) "
            "SELECT campaign_id, org_unit_id, device_id, form, COUNT(*), 0 FROM submissions "
            "GROUP BY campaign_id, org_unit_id, device_id, form"
        )
    )
    session.execute(
        text(
            "INSERT INTO rollups (campaign_id, org_unit_id, metric, day, shard, value) "
            "SELECT c.campaign_id, a.id, c.metric, c.day, c.shard, SUM(c.value) FROM counters c "
            "JOIN org_units o ON o.id = c.org_unit_id "
            "JOIN org_units a ON o.path LIKE a.path || '%' "
            "GROUP BY c.campaign_id, a.id, c.metric, c.day, c.shard"
        )
    )


TARGETS = ("citizens_reached", "accounts_activated", "gifts_delivered")


def set_targets(session, campaign_id: int, wards: list[OrgUnit]) -> dict[str, dict[str, int]]:
    """Every ward's own targets, and their ``target_rollups`` (each unit above a ward: the sum
    of the wards below it, the contract's rule when only wards have targets), written by SQL
    here; returns the effective targets by unit code, reckoned apart in Python to check the
    answers against."""
    session.execute(text("DELETE FROM target_rollups"))
    session.execute(text("DELETE FROM targets"))
    rows, expected = [], defaultdict(lambda: defaultdict(int))
    for i, ward in enumerate(wards):
        for k, metric in enumerate(TARGETS):
            value = 50 + (i * 7 + k * 13) % 90
            rows.append(
                {
                    "campaign_id": campaign_id,
                    "org_unit_id": ward.id,
                    "metric": metric,
                    "value": value,
                }
            )
            code = ward.code  # P3C4W5: city P3C4, province P3, country VN
            for unit in (code, code[: code.index("W")], code[: code.index("C")], "VN"):
                expected[unit][metric] += value
    session.execute(insert(Target.__table__), rows)
    session.execute(
        text(
            "INSERT INTO target_rollups (campaign_id, org_unit_id, metric, value) "
            "SELECT t.campaign_id, a.id, t.metric, SUM(t.value) FROM targets t "
            "JOIN org_units o ON o.id = t.org_unit_id "
            "JOIN org_units a ON o.path LIKE a.path || '%' "
            "GROUP BY t.campaign_id, a.id, t.metric"
        )
    )
    return expected


def raw_totals_ms(engine, unit_path: str, dialect: str) -> float:
    status = (
        "json_extract(s.data, '$.status')" if dialect == "sqlite" else "(s.data::json->>'status')"
    )
    query = text(
        f"SELECT s.form, {status}, COUNT(*) FROM submissions s "
        "JOIN org_units o ON o.id = s.org_unit_id WHERE o.path LIKE :p GROUP BY 1, 2"
    )
    times = []
    with engine.connect() as conn:
        for _ in range(5):
            started = time.perf_counter()
            conn.execute(query, {"p": unit_path + "%"}).all()
            times.append(time.perf_counter() - started)
    return percentile(times, 0.5) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--shards", type=int, default=4,
        help="counter shards the rows are spread over on PostgreSQL (SQLite: 1)",
    )  # fmt: skip
    parser.add_argument("--pages", action="store_true", help="also time the lead's pages")
    parser.add_argument("--devices", type=int, default=300, help="phones (with --pages)")
    parser.add_argument(
        "--city-share", type=float, default=0.0,
        help=f"share of the rows sent into city {CITY}'s ten wards (with --pages)",
    )  # fmt: skip
    parser.add_argument("--page-requests", type=int, default=50)
    args = parser.parse_args()
    if args.pages:  # the login form over plain HTTP on 127.0.0.1, as `make run` serves it
        os.environ["WARDSYNC_SESSION_COOKIE_SECURE"] = "0"
    url = fresh_database(args.backend, Path(tempfile.mkdtemp(prefix="wardsync-bench-")))
    engine = make_engine(url)
    factory = make_session_factory(engine)
    phones = None
    with factory() as session:
        wards, campaign_id = build_campaign(session)
        city = [w for w in wards if w.code.startswith(CITY + "W")]
        if args.pages:
            phones = make_volunteers(session, args.devices, city)
        session.commit()
    rnd = random.Random(7)
    loaded = 0
    with factory() as session:
        parents = {u.code: p for u, p in _parents(session)}
    model = Model(parents)
    shards = args.shards if args.backend == "postgresql" else 1  # SQLite: always shard 0
    with factory() as session:
        targets = set_targets(session, campaign_id, wards)
        session.commit()
    for size in sorted(args.sizes):
        with factory() as session:
            load_submissions(
                session,
                campaign_id,
                "bench-device",
                wards,
                loaded,
                size - loaded,
                rnd,
                model=model,
                devices=phones,
                city=city if args.pages else None,
                city_share=args.city_share,
            )
            derive_counters(session, args.backend, shards)
            session.commit()
        loaded = size
        analyzed = analyze(engine)  # autovacuum is off here: the planner needs the statistics
        with engine.connect() as conn:
            counted = {
                table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                for table in ("submissions", "counters", "rollups", "target_rollups")
            }
        print(
            f"[{args.backend}] loaded {counted['submissions']:,} submissions; derived "
            f"{counted['counters']:,} counter and {counted['rollups']:,} rollup rows in "
            f"{shards} shard(s), {counted['target_rollups']:,} target rollups; ANALYZE "
            f"{analyzed:.1f} s",
            flush=True,
        )
        with factory() as session:
            units = {
                u.code: u
                for u in session.scalars(
                    select(OrgUnit).where(OrgUnit.code.in_(["VN", "P3", CITY, "P3C4W5"]))
                )
            }
        with server(url, workers=2, threads=2) as base:
            token = _token(base, url)
            http = requests.Session()  # keep-alive, as a browser would
            headers = {"Authorization": f"Bearer {token}"}
            for label, code in (("ward", "P3C4W5"), ("city", "P3C4"), ("country", "VN")):
                latencies = []
                for i in range(REQUESTS + 10):
                    started = time.perf_counter()
                    response = http.get(
                        base + "/api/v1/progress",
                        headers=headers,
                        params={"campaign": "bench", "org_unit": code, "daily": "1"},
                        timeout=30,
                    )
                    if i >= 10:  # warm-up excluded
                        latencies.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text
                    if i == 0:  # what is timed is right: the totals the contract says
                        _same_as_model(response.json(), model, code, targets[code])
                raw = raw_totals_ms(engine, units[code].path, args.backend)
                print(
                    f"[{args.backend}] {size:>9,} submissions, {label:<7}: progress p50 "
                    f"{percentile(latencies, 0.5) * 1000:6.1f} ms, p99 "
                    f"{percentile(latencies, 0.99) * 1000:6.1f} ms; GROUP BY over raw "
                    f"submissions {raw:8.1f} ms"
                )
            if args.pages:
                with engine.connect() as conn:
                    in_city = conn.scalar(
                        text(
                            "SELECT count(*) FROM submissions s JOIN org_units o "
                            "ON o.id = s.org_unit_id WHERE o.path LIKE :p"
                        ),
                        {"p": units[CITY].path + "%"},
                    )
                print(f"[{args.backend}] the lead's pages, {in_city:,} submissions in the city:")
                time_pages(base, url, CITY, args.page_requests, headers)
    engine.dispose()


def make_volunteers(session, count: int, city: list[OrgUnit]) -> list[str]:
    """``count`` volunteers with a phone each, in the city's wards, and the city's lead (the
    password is set when the pages are timed). Returns the phones' ids."""
    ids = []
    for i in range(count):
        ward = city[i % len(city)]
        user = users.create(session, f"vol{i:03d}", "volunteer", [ward.code])
        family = f"bench-vol-{i}"
        session.add(TokenFamily(id=family, user_id=user.id))
        session.flush()
        device = Device(
            id=f"bench-phone-{i:03d}", user_id=user.id, family_id=family, name=f"máy {i}"
        )
        device.org_units = [ward]
        session.add(device)
        ids.append(device.id)
    users.create(session, "lead-city", "lead", [CITY])
    return ids


def time_pages(base: str, url: str, code: str, requests_count: int, api_headers: dict) -> None:
    """Log the city's lead in through the login form, check the page's figures against the
    API's, then time the progress page and the volunteer table."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        lead = session.scalar(select(User).where(User.username == "lead-city"))
        lead.password_hash = hash_password("bench lead password")
        session.commit()
    engine.dispose()
    browser = requests.Session()
    form = browser.get(base + "/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    answer = browser.post(
        base + "/login",
        data={"username": "lead-city", "password": "bench lead password", "csrf_token": token},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:300]
    api = requests.get(
        base + "/api/v1/progress",
        headers=api_headers,
        params={"campaign": "bench", "org_unit": code},
        timeout=30,
    ).json()
    page = browser.get(base + "/", params={"campaign": "bench", "unit": code}, timeout=30).text
    for metric, total in api["totals"].items():
        shown = re.search(rf'data-metric="{metric}" data-value="([^"]+)"', page)[1]
        if float(shown) != float(total["value"]):
            raise SystemExit(f"the page shows {metric} = {shown}, the API {total['value']}")
    quiet = len(re.findall(r'class="quiet-phone"', page))
    for label, path in (("progress page", "/"), ("volunteer table", "/volunteers")):
        latencies = []
        for i in range(requests_count + 5):
            started = time.perf_counter()
            response = browser.get(
                base + path, params={"campaign": "bench", "unit": code}, timeout=60
            )
            if i >= 5:
                latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text[:300]
        rows = len(re.findall(r'<tr class="volunteer"', response.text))
        extra = f"{quiet} quiet phones" if path == "/" else f"{rows} volunteers"
        print(
            f"    city {code}, {label:<15}: p50 {percentile(latencies, 0.5) * 1000:6.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:6.1f} ms ({extra})",
            flush=True,
        )


def _parents(session):
    parent = aliased(OrgUnit)
    return session.execute(
        select(OrgUnit, parent.code).outerjoin(parent, parent.id == OrgUnit.parent_id)
    ).all()


def _same_as_model(body: dict, model: Model, code: str, targets: dict[str, int]) -> None:
    got = {k: v["value"] for k, v in body["totals"].items()}
    want = {k: float(v["value"]) if k == "volunteer_hours" else v["value"]
            for k, v in model.totals(code).items()}  # fmt: skip
    if got != want:
        raise SystemExit(f"progress of {code} differs from the model: {got} != {want}")
    got = {k: v["target"] for k, v in body["totals"].items() if v["target"] is not None}
    if got != dict(targets):
        raise SystemExit(f"targets of {code} differ: {got} != {dict(targets)}")


def _token(base: str, url: str) -> str:
    """A real admin login against the server (the password is set here)."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        user = session.scalar(select(User).where(User.username == "admin"))
        user.password_hash = hash_password("bench admin password")
        session.commit()
    engine.dispose()
    answer = requests.post(
        base + "/api/v1/auth/login",
        json={"username": "admin", "password": "bench admin password"},
        timeout=30,
    )
    return json.loads(answer.text)["access_token"]


if __name__ == "__main__":
    main()
