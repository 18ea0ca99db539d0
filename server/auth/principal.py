"""Who is asking: the bearer token checked on every request, and role checks for views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, g, request
from sqlalchemy import select

from sync import api_keys
from sync.models import Device, TokenFamily, User
from sync.scope import Scope

from .. import db
from ..errors import ApiError
from .tokens import InvalidToken, KeyRing

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="wardsync"'}


@dataclass(frozen=True)
class Principal:
    user: User | None
    family_id: str | None
    scope: Scope
    device_id: str | None = None
    api_key_id: int | None = None

    @property
    def role(self) -> str:
        """The user's role; an export script's API key acts as the role ``api_key``."""
        return "api_key" if self.api_key_id is not None else self.user.role


def unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, headers=UNAUTHORIZED_HEADERS)


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("A bearer token is required.")
    return token.strip()


def authenticate() -> Principal:
    if "principal" in g:
        return g.principal
    token = bearer_token()
    if token.startswith(api_keys.PREFIX):
        found = api_keys.authenticate(db.session(), token)
        if found is None:
            raise unauthorized("The API key is unknown or revoked.")
        key, scope = found
        g.principal = Principal(user=None, family_id=None, scope=scope, api_key_id=key.id)
        return g.principal
    ring = KeyRing.from_config(current_app.config)
    try:
        claims = ring.verify(token)
        user_id = int(claims["sub"])
    except (InvalidToken, ValueError) as exc:
        raise unauthorized("The token is invalid or expired.") from exc
    row = (
        db.session()
        .execute(
            select(User, TokenFamily.revoked_at)
            .join(TokenFamily, TokenFamily.user_id == User.id)
            .where(User.id == user_id, TokenFamily.id == claims.get("fam"))
        )
        .first()
    )
    if row is None or row.revoked_at is not None or not row.User.is_active:
        raise unauthorized("The token has been revoked.")
    user = row.User
    device_id = claims.get("dev")
    if device_id is None:
        scope = Scope.of_user(user)
    else:
        device = db.session().get(Device, device_id)
        if device is None or device.revoked_at is not None or device.family_id != claims["fam"]:
            raise unauthorized("This device has been revoked.")
        scope = Scope.of_units(device.org_units)
    g.principal = Principal(user=user, family_id=claims["fam"], scope=scope, device_id=device_id)
    return g.principal


def requires(*roles: str, device: bool = False) -> Callable:
    """Let the view run only for a caller with one of ``roles``.

    ``device=True``: only a device's token will do (push and pull); otherwise a device token
    is refused, so a stolen phone cannot reach the administration endpoints.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = authenticate()
            if device and principal.device_id is None:
                raise ApiError(403, "This endpoint takes a device token.")
            if not device and principal.device_id is not None:
                raise ApiError(403, "A device token cannot be used here.")
            if principal.role not in roles:
                raise ApiError(403, "Your role may not do this.")
            return view(*args, **kwargs)

        # Read by server.openapi: the route needs a bearer token (so it can 401 and 403).
        wrapper.required_roles = roles
        wrapper.device_only = device
        return wrapper

    return decorator


def current() -> Principal:
    return g.principal
