"""Schemathesis against a real ``wardsync serve`` on SQLite, with a device's token, an export
API key, a ward lead's token and an admin's. Exits non-zero on any server error or any answer
the served OpenAPI document does not describe.

Run by ``.ci/run`` after the test suite; by hand:
``.venv/bin/python tests/contract/run_schemathesis.py``. ``SCHEMATHESIS_EXAMPLES``: cases per
operation; ``SCHEMATHESIS_SEED``: replay a run, or ``random`` to explore;
``SCHEMATHESIS_WORKDIR``: keep the server's log and the reports there.

The world is seeded before the server starts (the demo's city, wards, targets and users), then
through the API as a phone and a lead would (an enrolled device, pushes that open review items,
a revoked device, an API key), so the operations answer with real data and not only 404s.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import requests
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kit.live import ServerProcess  # noqa: E402

from migrations import api as migrations_api  # noqa: E402
from sync.accounts import devices
from sync.admin import demo
from sync.db import make_engine, make_session_factory  # noqa: E402
from sync.models import User  # noqa: E402

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
WARD = demo.WARDS[0][0]
VOLUNTEER = demo.VOLUNTEERS[0]
EXPORT_PROBE = f"/api/v1/exports/follow-ups?campaign={demo.CAMPAIGN[0]}&org_unit={WARD}"
LEAD = "lead-" + WARD.removeprefix("TA-").lower()  # the demo's lead of that ward

# What is checked, and why these:
# - not_a_server_error: no input may produce a 500 (the contract's first rule).
# - status_code_conformance: every status the server gives is one the document declares.
# - content_type_conformance: the media type served is the one declared (problem+json errors).
# - response_schema_conformance: every body matches its declared schema.
# - response_headers_conformance: headers declared required (Retry-After on 429/503) are sent.
# - ignored_auth: an operation that declares bearer security refuses a request without it.
# - unsupported_method: a method a path does not have is a 405 (with Allow), not a 404 or 500.
# Left out: negative_data_rejection and positive_data_acceptance, because a push answers 200
# with per-item "rejected" results for invalid items (by design, the contract's "one bad item
# never rejects its neighbours"), and data valid by the schema still names campaigns and org
# units that do not exist (a documented 404/422); both would fail on correct behaviour. The
# server also ignores query parameters it does not know, as HTTP APIs commonly do.
# allow_header_conformance: Flask answers OPTIONS itself and lists it (and HEAD) in Allow,
# which the document does not list as operations. The stateful phase and its checks
# (use_after_free, ensure_resource_availability) need links the document does not declare.
CHECKS = os.environ.get("SCHEMATHESIS_CHECKS") or ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "ignored_auth",
        "unsupported_method",
    )
)


def known_values(ids: dict[str, list[int]]) -> str:
    """schemathesis.toml: the seeded world's codes, drawn often (not always) for the fields
    that name them, so generated requests reach past "no such campaign" into the real logic
    while the rest stay random."""
    dictionaries = {
        "campaigns": [demo.CAMPAIGN[0]],
        "units": [WARD, demo.CITY[0], demo.WARDS[1][0], demo.PROVINCE[0]],
        "volunteers": [VOLUNTEER, demo.VOLUNTEERS[1]],
        "review_items": ids["review_items"],
        "records": ids["records"],
    }
    bindings = {
        "query.campaign": "campaigns",
        "query.org_unit": "units",
        "query.parent": "units",
        "path.code": "campaigns",
        "body.submissions[*].campaign": "campaigns",
        "body.submissions[*].org_unit": "units",
        "body.org_units[*]": "units",
        "body.parent": "units",
        "body.volunteer": "volunteers",
        "path.item_id": "review_items",
        "path.record_id": "records",
    }
    lines = []
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for key, name in bindings.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = 0.6 }}')
    return "\n".join(lines) + "\n"


def seed(db_url: str) -> dict[str, str]:
    """The demo world; returns the admin's and a ward lead's passwords, and enrolment codes."""
    migrations_api.upgrade(db_url)
    engine = make_engine(db_url)
    session = make_session_factory(engine)()
    made = {c.username: c for c in demo.load(session)}
    session.commit()
    admin = session.scalar(select(User).where(User.username == "admin"))
    codes = [devices.create_code(session, admin, VOLUNTEER, [WARD])[0] for _ in range(2)]
    session.commit()
    session.close()
    engine.dispose()
    return {
        "admin": made["admin"].password,
        LEAD: made[LEAD].password,
        "code": codes[0],
        "spare_code": codes[1],
    }


def _ok(response: requests.Response, *statuses: int) -> dict:
    if response.status_code not in statuses:
        raise SystemExit(
            f"seeding failed: {response.request.method} {response.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json() if response.content else {}


def _post(url: str, body: dict, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(url, json=body, headers=headers, timeout=60)


def populate(base: str, secrets: dict[str, str]) -> tuple[dict[str, str], dict[str, list]]:
    """A token for each run, and data behind them: records, review items, a revoked device.
    Returns the tokens, and the ids of the review items and records made."""
    api = base + "/api/v1"

    def login(username: str) -> str:
        body = {"username": username, "password": secrets[username]}
        return _ok(_post(api + "/auth/login", body), 200)["access_token"]

    admin, lead = login("admin"), login(LEAD)
    device = _ok(_post(api + "/devices/enroll", {"code": secrets["code"], "name": "phone"}), 201)
    lost = _ok(_post(api + "/devices/enroll", {"code": secrets["spare_code"], "name": "x"}), 201)
    revoked = requests.delete(
        f"{api}/devices/{lost['device_id']}",
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    _ok(revoked, 204)
    household = str(uuid.uuid4())

    def item(form: str, data: dict, minute: int) -> dict:
        return {
            "id": str(uuid.uuid4()),
            "form": form,
            "form_version": 1,
            "campaign": demo.CAMPAIGN[0],
            "org_unit": WARD,
            "recorded_at": "2023-07-29T09:15:00+07:00",
            "hlc": f"{1_690_596_900_000 + minute * 60_000}:0:x",
            "data": data,
        }

    batch = [
        item("activation", {"citizen_id": "079123456789", "status": "activated"}, 0),
        item("activation", {"citizen_id": "079123456789", "status": "refused"}, 1),
        item("activation", {"citizen_id": "079123456788", "status": "no_smartphone"}, 1),
        item("gift", {"household_id": household, "gift_kind": "rice", "round": "r1"}, 2),
        item("gift", {"household_id": household, "gift_kind": "rice", "round": "r1"}, 3),
        item("household_help", {"household_id": household, "kind": "cleanup", "hours": 2}, 4),
        item("activation", {"citizen_id": "12"}, 5),
    ]
    pushed = _ok(_post(api + "/sync/push", {"submissions": batch}, device["access_token"]), 200)
    key = _post(
        api + "/api-keys", {"name": "nightly", "scope": "export", "org_units": [WARD]}, admin
    )
    queue = requests.get(
        f"{api}/conflicts?campaign={demo.CAMPAIGN[0]}",
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    tokens = {
        "admin": admin,
        "lead": lead,
        "device": device["access_token"],
        "api_key": _ok(key, 201)["key"],
    }
    ids = {
        "review_items": [i["id"] for i in _ok(queue, 200)["items"]],
        "records": sorted({r["record_id"] for r in pushed["results"] if "record_id" in r}),
    }
    return tokens, ids


def schemathesis(base: str, token: str, label: str, extra: list[str], work: Path) -> int:
    # A fixed seed by default, so CI is repeatable; SCHEMATHESIS_SEED=random explores.
    seed_value = os.environ.get("SCHEMATHESIS_SEED", "29072023")
    if seed_value == "random":
        seed_value = str(random.randrange(2**31))
    examples = os.environ.get("SCHEMATHESIS_EXAMPLES", "25")
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(work / "schemathesis.toml"),
        "run",
        f"{base}/api/v1/openapi.json",
        "--url",
        base,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        examples,
        "--seed",
        seed_value,
        "--workers",
        "1",  # CPython 3.11.7's ast.parse, which hypothesis calls, is not thread-safe
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(work / f"{label}.ndjson"),
        *extra,
    ]
    print(f"== schemathesis with the {label} token (seed {seed_value}, {examples} examples)")
    sys.stdout.flush()
    started = time.monotonic()
    # In the work folder: schemathesis keeps a crash cache in its working directory.
    status = subprocess.run(command, check=False, cwd=work).returncode  # noqa: S603
    print(f"== {label}: exit {status} in {time.monotonic() - started:.0f} s; statuses seen:")
    statuses_seen(work / f"{label}.ndjson")
    sys.stdout.flush()
    return status


def statuses_seen(report: Path) -> None:
    """Per operation, the statuses the server gave: shows which ones were reached past 4xx."""
    seen: dict[str, Counter] = defaultdict(Counter)
    for line in report.read_text().splitlines() if report.exists() else []:
        finished = json.loads(line).get("ScenarioFinished")
        if not finished:
            continue
        for interaction in (finished["recorder"].get("interactions") or {}).values():
            response = interaction.get("response")
            seen[finished["recorder"]["label"]][response["status_code"] if response else 0] += 1
    for label, counts in sorted(seen.items()):
        tally = " ".join(f"{status}x{n}" for status, n in sorted(counts.items()))
        print(f"   {label:<45} {tally}")


def token_works(base: str, token: str, path: str) -> bool:
    """A run whose token stopped working tested nothing but 401s: that is a failure too."""
    response = requests.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if response.status_code != 200:
        print(f"the token no longer works: GET {path} answered {response.status_code}")
    return response.status_code == 200


def main() -> int:
    keep = os.environ.get("SCHEMATHESIS_WORKDIR")  # kept afterwards: the log and reports
    with tempfile.TemporaryDirectory(prefix="wardsync-contract-") as scratch:
        work = Path(keep or scratch)
        work.mkdir(parents=True, exist_ok=True)
        db_url = f"sqlite:///{work / 'contract.sqlite3'}"
        secrets = seed(db_url)
        env = {
            "WARDSYNC_DATABASE_URL": db_url,
            "WARDSYNC_SECRET_KEY": "contract-run-secret-key-long-enough-for-hs256-0123",
            "WARDSYNC_INSTANCE_PATH": str(work / "instance"),
            "WARDSYNC_THREADS": "4",
        }
        server = ServerProcess(env, work / "server.log", workers=2)
        server.start()
        failed = False
        try:
            tokens, ids = populate(server.base, secrets)
            (work / "schemathesis.toml").write_text(known_values(ids))
            # The admin's run last: it revokes the devices and API keys it comes across.
            runs = [
                ("device", ["--include-path-regex", "^/api/v1/(sync|auth)/"], "/api/v1/sync/pull"),
                ("api_key", ["--include-path-regex", "^/api/v1/exports/"], EXPORT_PROBE),
                ("lead", ["--exclude-path-regex", "^/api/v1/(sync|auth)/"], "/api/v1/devices"),
                ("admin", ["--exclude-path-regex", "^/api/v1/sync/"], "/api/v1/devices"),
            ]
            for label, extra, probe in runs:
                token = tokens[label]
                failed |= not token_works(server.base, token, probe)
                failed |= schemathesis(server.base, token, label, extra, work) != 0
                failed |= not token_works(server.base, token, probe)
        finally:
            server.stop()
            log = (work / "server.log").read_text()
        errors = [line for line in log.splitlines() if "Traceback" in line]
        if errors:
            print(f"the server logged {len(errors)} tracebacks:")
            print(log[-5000:])
        return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
