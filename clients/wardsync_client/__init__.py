"""The wardsync client: talks to a wardsync server over HTTP only."""

from .api import ApiError, Connection, Tokens

__all__ = ["ApiError", "Connection", "Tokens"]
