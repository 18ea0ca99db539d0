"""Short-lived JWT access tokens.

The algorithm is pinned (HS256) on both sides: the header's ``alg`` is never trusted, so
``none`` and algorithm-confusion tokens fail. ``kid`` picks the verifying key, which lets keys
rotate: the first configured key signs, every configured key still verifies.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti"]


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, str]
    current_kid: str
    issuer: str
    audience: str
    ttl_seconds: int

    @classmethod
    def from_config(cls, config) -> KeyRing:
        return cls(
            keys=config["JWT_KEYS"],
            current_kid=config["JWT_CURRENT_KID"],
            issuer=config["JWT_ISSUER"],
            audience=config["JWT_AUDIENCE"],
            ttl_seconds=config["ACCESS_TOKEN_TTL"],
        )

    def issue(self, subject: str, family_id: str, device_id: str | None = None) -> str:
        now = datetime.now(UTC)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + timedelta(seconds=self.ttl_seconds),
            "jti": secrets.token_hex(16),
            "fam": family_id,
        }
        if device_id is not None:
            claims["dev"] = device_id
        return jwt.encode(
            claims,
            self.keys[self.current_kid],
            algorithm=ALGORITHM,
            headers={"kid": self.current_kid},
        )

    def verify(self, token: str) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        key = self.keys.get(header.get("kid"))
        if key is None:
            raise InvalidToken("unknown key id")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
