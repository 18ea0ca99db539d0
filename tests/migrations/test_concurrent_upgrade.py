"""Several hosts starting a new release at once each run ``wardsync db upgrade``: one
migrates, the others wait for it and then find the schema at head; none fails."""

from __future__ import annotations

import os
import subprocess

from kit.live import WARDSYNC

from migrations import api as migrations_api
from sync.db import make_engine

HOSTS = 4


def test_hosts_upgrading_at_once_all_succeed(db_url, server_env):
    migrations_api.downgrade(db_url, "base")  # an empty database, as on a first deploy
    env = {**os.environ, **server_env}
    upgrades = [
        subprocess.Popen(
            [WARDSYNC, "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(HOSTS)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in upgrades]
    assert [p.returncode for p in upgrades] == [0] * HOSTS, "\n---\n".join(outputs)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            assert migrations_api.is_at_head(connection)
    finally:
        engine.dispose()
