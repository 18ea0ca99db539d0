"""The login and enrolment limits hold whatever the spelling of a username, across the API and
the pages, in the database and in Redis, and across the workers of a real server."""

from __future__ import annotations

import os
import re
import secrets
import threading

import pytest
import requests
from kit.databases import TEST_SECRET

from server.app import create_app
from sync.accounts import users

PASSWORD = "correct horse battery"
REDIS_URL = os.environ.get("WARDSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_REDIS = os.environ.get("WARDSYNC_REQUIRE_REDIS") == "1"
SPELLINGS = [
    "lead-x",
    " lead-x",
    "lead-x ",
    "\tlead-x",
    "LEAD-X",
    "Lead-X",
    "\uff4c\uff45\uff41\uff44\uff0d\uff58",  # full-width "ｌｅａｄ－ｘ", NFKC makes it lead-x
    "\u3000lead-x",  # an ideographic space
    "lead-x\u00a0",  # a no-break space
    "\u2003LEAD-x",  # an em space
]


def redis_or_skip() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no Redis here
        reason = f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__})"
        if REQUIRE_REDIS:
            pytest.fail(f"WARDSYNC_REQUIRE_REDIS=1 but {reason}")
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture(params=["database", "redis"])
def store(request) -> dict:
    """Config for the throttle's storage; Redis gets a prefix of its own per test."""
    if request.param == "database":
        return {}
    return {"REDIS_URL": redis_or_skip(), "THROTTLE_PREFIX": f"test-{secrets.token_hex(6)}"}


@pytest.fixture
def limited_app(db_url, instance_dir, store):
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": TEST_SECRET, **store})
    yield app
    app.extensions["wardsync.engine"].dispose()


@pytest.fixture
def lead_x(world, session):
    users.create(session, "Lead-X", "lead", ["W1"], password=PASSWORD)
    session.commit()
    return "lead-x"


def login(client, username, password):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_usernames_are_stored_and_found_in_one_spelling(world, lead_x, session, client):
    assert users.get(session, "LEAD-X").username == "lead-x"
    for spelling in SPELLINGS:
        assert login(client, spelling, PASSWORD).status_code == 200, repr(spelling)


def test_every_spelling_counts_against_one_username(world, lead_x, limited_app):
    client = limited_app.test_client()
    for n in range(10):
        response = login(client, SPELLINGS[n % len(SPELLINGS)], "wrong password")
        assert response.status_code == 401
        assert "Retry-After" not in response.headers
    for spelling in SPELLINGS:
        limited = login(client, spelling, PASSWORD)  # even the right password, any spelling
        assert limited.status_code == 429, repr(spelling)
        assert limited.content_type == "application/problem+json"
        assert 0 < int(limited.headers["Retry-After"]) <= 15 * 60
    other = login(client, "admin-nobody", "wrong password")
    assert other.status_code == 401  # another username is not held back


def test_a_success_does_not_count_as_a_failure(world, lead_x, limited_app):
    client = limited_app.test_client()
    for _ in range(9):
        assert login(client, "lead-x", "wrong password").status_code == 401
    for _ in range(3):
        assert login(client, "LEAD-X", PASSWORD).status_code == 200
    assert login(client, "lead-x", "wrong password").status_code == 401  # the tenth failure
    assert login(client, "lead-x", PASSWORD).status_code == 429


def test_the_pages_share_the_api_limit(world, lead_x, limited_app):
    client = limited_app.test_client()
    for _ in range(10):
        assert login(client, " Lead-X", "wrong password").status_code == 401
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)[1]
    page = client.post(
        "/login", data={"username": "lead-x", "password": PASSWORD, "csrf_token": csrf}
    )
    assert page.status_code == 429
    assert int(page.headers["Retry-After"]) > 0
    assert client.get("/", follow_redirects=False).status_code == 302  # not logged in


def test_enrolment_failures_are_limited_per_phone_behind_a_proxy(
    db_url, instance_dir, store, world
):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": db_url,
            "SECRET_KEY": TEST_SECRET,
            "PROXY_COUNT": 1,
            **store,
        }
    )
    try:
        client = app.test_client()

        def enroll(phone_address: str):
            return client.post(
                "/api/v1/devices/enroll",
                json={"code": "not-a-code", "name": "p"},
                headers={"X-Forwarded-For": phone_address},
                environ_base={"REMOTE_ADDR": "10.0.0.1"},  # the load balancer
            )

        for _ in range(30):
            assert enroll("203.0.113.7").status_code == 401
        limited = enroll("203.0.113.7")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert enroll("203.0.113.8").status_code == 401  # another phone behind the same proxy
    finally:
        app.extensions["wardsync.engine"].dispose()


def test_without_a_trusted_proxy_a_forwarded_address_is_not_believed(db_url, instance_dir, world):
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": TEST_SECRET})
    try:
        client = app.test_client()
        for n in range(31):
            response = client.post(
                "/api/v1/devices/enroll",
                json={"code": "not-a-code", "name": "p"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},  # made up by the client
            )
        assert response.status_code == 429
    finally:
        app.extensions["wardsync.engine"].dispose()


# --- across the workers of a real server ----------------------------------------------------


@pytest.fixture
def many_workers(server_env, store, tmp_path):
    from kit.live import ServerProcess

    env = dict(server_env)
    if store:
        env["WARDSYNC_REDIS_URL"] = store["REDIS_URL"]
        env["WARDSYNC_THROTTLE_PREFIX"] = store["THROTTLE_PREFIX"]
    server = ServerProcess(env, tmp_path / "server.log", workers=3)
    server.start()
    yield server
    server.stop()


def test_concurrent_guesses_on_several_workers_get_ten_tries_in_all(world, lead_x, many_workers):
    """Thirty guesses at once, each on its own connection (so spread over three workers and
    their threads), in every spelling: ten are judged, the other twenty are refused."""
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(30)

    def guess(n: int) -> None:
        start.wait(timeout=30)
        response = requests.post(
            many_workers.base + "/api/v1/auth/login",
            json={"username": SPELLINGS[n % len(SPELLINGS)], "password": f"guess {n}"},
            headers={"Connection": "close"},
            timeout=60,
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(statuses) == [401] * 10 + [429] * 20
    right = requests.post(
        many_workers.base + "/api/v1/auth/login",
        json={"username": "    lead-x", "password": PASSWORD},
        timeout=30,
    )
    assert right.status_code == 429


def test_redis_down_is_a_503_not_a_500_and_lets_no_guess_through(db_url, instance_dir, world):
    """With the limits kept in Redis and Redis not answering, a login or an enrolment cannot
    be counted: it is refused for now (503 with Retry-After), never let through uncounted."""
    from kit.live import free_port

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": db_url,
            "SECRET_KEY": TEST_SECRET,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    )
    client = app.test_client()
    for path, body in (
        ("/api/v1/auth/login", {"username": "lead-w1", "password": "wrong"}),
        ("/api/v1/devices/enroll", {"code": "no-such-code", "name": "phone"}),
    ):
        answer = client.post(path, json=body)
        assert answer.status_code == 503, (path, answer.get_data(as_text=True))
        assert int(answer.headers["Retry-After"]) > 0
        assert answer.content_type == "application/problem+json"
    app.extensions["wardsync.engine"].dispose()
