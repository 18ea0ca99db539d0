"""Who is asking: the bearer token checked on every request, and role checks for views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, g, request

from sync.accounts import api_keys, users
from sync.accounts.scope import GLOBAL_ROLES, Scope
from sync.models import User

from .. import db
from ..errors import ApiError
from .tokens import InvalidToken, KeyRing

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="wardsync"'}


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    user_role: str | None
    family_id: str | None
    scope: Scope
    device_id: str | None = None
    api_key_id: int | None = None

    @property
    def role(self) -> str:
        """The user's role; an export script's API key acts as the role ``api_key``."""
        return "api_key" if self.api_key_id is not None else self.user_role

    @functools.cached_property
    def user(self) -> User | None:
        """The user, loaded only by the views that need more than their id and role."""
        return db.session().get(User, self.user_id) if self.user_id is not None else None


def unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, headers=UNAUTHORIZED_HEADERS)


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("A bearer token is required.")
    return token.strip()


def page_session() -> Principal | None:
    """The lead's page session as a caller, when the request carries no bearer token: the user
    and scope the pages loaded for this request (``server.web.views``), from the database."""
    if request.headers.get("Authorization"):
        return None  # a token says who is asking; a cookie beside it changes nothing
    user = g.get("web_user")
    if user is None:
        return None
    scope = g.web_scope
    return Principal(user.id, user.role, g.web_family, scope)


def authenticate(allow_session: bool = False) -> Principal:
    if "principal" in g:
        return g.principal
    if allow_session and (from_page := page_session()) is not None:
        g.principal = from_page
        return g.principal
    token = bearer_token()
    if token.startswith(api_keys.PREFIX):
        found = api_keys.authenticate(db.session(), token)
        if found is None:
            raise unauthorized("The API key is unknown or revoked.")
        key, scope = found
        g.principal = Principal(None, None, None, scope, api_key_id=key.id)
        return g.principal
    ring = KeyRing.from_config(current_app.config)
    try:
        claims = ring.verify(token)
        user_id = int(claims["sub"])
    except (InvalidToken, ValueError) as exc:
        raise unauthorized("The token is invalid or expired.") from exc
    found = users.live_session(db.session(), user_id, claims.get("fam"), claims.get("dev"))
    if found is None:
        raise unauthorized("The token has been revoked.")
    if found.device_id is None and found.role in GLOBAL_ROLES:
        scope = Scope(everything=True)
    else:
        scope = Scope(everything=False, paths=found.paths)
    g.principal = Principal(user_id, found.role, claims["fam"], scope, device_id=found.device_id)
    return g.principal


def requires(*roles: str, device: bool = False, session: bool = False) -> Callable:
    """Let the view run only for a caller with one of ``roles``.

    ``device=True``: only a device's token will do (push and pull); otherwise a device token
    is refused, so a stolen phone cannot reach the administration endpoints.
    ``session=True``: a logged-in page session will do too, for the downloads the lead's
    pages link to (GET only: a read a cross-site page cannot see the answer of).
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = authenticate(allow_session=session)
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
