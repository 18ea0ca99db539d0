"""Configuration from ``WARDSYNC_*`` environment variables.

Nothing here is needed to start: with no environment at all wardsync runs on a SQLite file in
the instance folder and keeps a generated secret beside it, so ``make run`` works on a fresh
machine. Production sets at least ``WARDSYNC_DATABASE_URL`` and ``WARDSYNC_SECRET_KEY``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def instance_path() -> Path:
    return Path(os.environ.get("WARDSYNC_INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def load(env: dict[str, str] | None = None, instance: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ if env is None else env)
    instance = instance or instance_path()
    secret = env.get("WARDSYNC_SECRET_KEY") or _instance_secret(instance)
    jwt_keys = _parse_keys(env.get("WARDSYNC_JWT_KEYS")) or _derived_jwt_keys(secret)
    return {
        "DATABASE_URL": env.get("WARDSYNC_DATABASE_URL")
        or f"sqlite:///{instance / 'wardsync.sqlite3'}",
        # A read replica (a PostgreSQL hot standby) for the exports; absent: the primary.
        "REPLICA_DATABASE_URL": env.get("WARDSYNC_REPLICA_DATABASE_URL") or None,
        "SECRET_KEY": secret,
        # The keyed hash of citizen ids must outlive JWT key rotations, so it has its own key.
        "CITIZEN_ID_KEY": env.get("WARDSYNC_CITIZEN_ID_KEY") or _derive(secret, "citizen-id"),
        "JWT_KEYS": jwt_keys,
        "JWT_CURRENT_KID": next(iter(jwt_keys)),
        "JWT_ISSUER": env.get("WARDSYNC_JWT_ISSUER", "wardsync"),
        "JWT_AUDIENCE": env.get("WARDSYNC_JWT_AUDIENCE", "wardsync-api"),
        "ACCESS_TOKEN_TTL": int(env.get("WARDSYNC_ACCESS_TOKEN_TTL", 900)),
        "REFRESH_TOKEN_TTL": int(env.get("WARDSYNC_REFRESH_TOKEN_TTL", 30 * 24 * 3600)),
        # Rate limits are counted in the database unless Redis is given (sync.accounts.throttle).
        "REDIS_URL": env.get("WARDSYNC_REDIS_URL") or None,
        # The operator's token for /metrics (absent: no /metrics at all).
        "METRICS_TOKEN": env.get("WARDSYNC_METRICS_TOKEN") or None,
        "THROTTLE_PREFIX": env.get("WARDSYNC_THROTTLE_PREFIX", "wardsync"),
        # How many proxies in front of wardsync append to X-Forwarded-For (0: none trusted).
        "PROXY_COUNT": int(env.get("WARDSYNC_PROXY_COUNT", 0)),
        # A refresh token (or an enrolment code) presented again this soon after its first
        # use, before anything newer was used, is a lost answer's retry, not a thief.
        "REFRESH_GRACE_S": int(env.get("WARDSYNC_REFRESH_GRACE_S", 30)),
        # Where the phone app's files are (default: the installed package); tests point it
        # at a copy they can change, to show an update arriving.
        "PHONE_APP_DIR": env.get("WARDSYNC_APP_DIR"),
        "MAX_CONTENT_LENGTH": 5 * MIB,
        "SQL_ECHO": env.get("WARDSYNC_SQL_ECHO") == "1",
        # The pages' session cookie is Secure unless told otherwise (plain-HTTP demo on
        # loopback: `make run` sets WARDSYNC_SESSION_COOKIE_SECURE=0).
        "SESSION_COOKIE_SECURE": env.get("WARDSYNC_SESSION_COOKIE_SECURE", "1") != "0",
    }


def _instance_secret(instance: Path) -> str:
    """A random secret generated once per instance folder (mode 0600), for the embedded setup."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


def _derive(secret: str, purpose: str) -> str:
    return hmac.new(secret.encode(), f"wardsync:{purpose}".encode(), hashlib.sha256).hexdigest()


def _derived_jwt_keys(secret: str) -> dict[str, str]:
    key = _derive(secret, "jwt")
    kid = hashlib.sha256(key.encode()).hexdigest()[:12]
    return {kid: key}


def _parse_keys(raw: str | None) -> dict[str, str]:
    """``kid1=secret1,kid2=secret2``: the first signs, all of them verify (key rotation)."""
    keys: dict[str, str] = {}
    for part in (raw or "").split(","):
        if part.strip():
            kid, _, key = part.strip().partition("=")
            if not kid or len(key) < 32:
                raise ValueError("WARDSYNC_JWT_KEYS: each entry is kid=secret, secret >= 32 chars")
            keys[kid] = key
    return keys
