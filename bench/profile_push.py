"""One worker's push path, in process, for a profiler: the same requests as ``bench.ingest``
(its mix, cut into ``--batch-size`` forms) pushed one after another straight into
``sync.push.pipeline.push`` (no HTTP), or with ``--http`` through the Flask app in process (token
check, JSON, marshmallow, commit: the fixed cost of a request), with the time of each.

    .venv/bin/py-spy record --format raw -o push.txt -- .venv/bin/python -m bench.profile_push
    .venv/bin/python -m bench.profile_push --cprofile push.prof            # no py-spy needed
    .venv/bin/python -m bench.profile_push --batch-size 1 --count 500 --http --cprofile one.prof
    .venv/bin/python -m bench.profile_push --resends --http --cprofile resend.prof
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import secrets
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bench.common import fresh_database, percentile, seed
from bench.ingest import make_batches
from server.auth import refresh
from sync.accounts import devices
from sync.accounts.scope import Scope
from sync.db import make_engine, make_session_factory
from sync.models import Device, User
from sync.push.pipeline import push
from sync.push.state import DeviceContext


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--batch-size", "--batch", dest="batch", type=int, default=500)
    parser.add_argument("--count", type=int, default=20, help="requests")
    parser.add_argument(
        "--cprofile", metavar="FILE",
        help="profile the timed pushes with cProfile: stats to FILE, the top 25 printed",
    )  # fmt: skip
    parser.add_argument(
        "--resends", action="store_true",
        help="push every request once untimed, then time (and profile) its identical resend",
    )  # fmt: skip
    parser.add_argument(
        "--http", action="store_true", help="through the Flask app (auth, JSON, commit) in process"
    )
    args = parser.parse_args()
    url = fresh_database(args.backend, Path(tempfile.mkdtemp(prefix="wardsync-profile-")))
    codes = seed(url, wards=10, devices_count=1)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as session:
        enrollment = devices.lock_code(session, codes[0])
        rotation = refresh.start_family(session, enrollment.volunteer_id, 3600)
        device = devices.enroll(session, enrollment, "profile", rotation.family_id)
        session.commit()
        user = session.get(User, device.user_id)
        context = DeviceContext(device.id, user.id, Scope.of_units(device.org_units))
        ward = session.scalar(select(Device).where(Device.id == device.id)).org_units[0].code
    batches = make_batches(0, ward, args.count, random.Random(1), size=args.batch)
    key = secrets.token_hex(16)
    send = _through_app(url, rotation, device.id) if args.http else None

    def one(batch: list[dict]) -> float:
        started = time.perf_counter()
        if send is not None:
            send(batch)
        else:
            with sessions() as session:
                push(session, context, batch, citizen_key=key)
                session.commit()
        return time.perf_counter() - started

    if args.resends:  # stored first, untimed; what is timed is their identical resends
        for batch in batches:
            one(batch)
    times = []
    profile = cProfile.Profile() if args.cprofile else None
    if profile is not None:
        profile.enable()
    for batch in batches:
        times.append(one(batch))
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.cprofile)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    done = sum(len(b) for b in batches)
    print(
        f"[{args.backend}] {len(batches)} requests of {args.batch}"
        f"{' through the Flask app' if args.http else ''}"
        f"{', each an identical resend' if args.resends else ''}"
        f"{' (under cProfile: slower)' if profile else ''}: "
        f"{done / sum(times):,.0f} submissions/s in one thread; "
        f"p50 {percentile(times, 0.5) * 1000:.1f} ms, p99 {percentile(times, 0.99) * 1000:.1f} ms"
    )
    engine.dispose()


def _through_app(url: str, rotation, device_id: str):
    from server.app import create_app
    from server.auth.tokens import KeyRing

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secrets.token_urlsafe(48)})
    token = KeyRing.from_config(app.config).issue(
        str(rotation.user_id), rotation.family_id, device_id
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def send(batch: list[dict]) -> None:
        response = client.post("/api/v1/sync/push", json={"submissions": batch}, headers=headers)
        assert response.status_code == 200, response.get_json()

    return send


if __name__ == "__main__":
    main()
