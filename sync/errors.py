"""Domain errors. The web layer maps each to its problem+json status; the CLI prints them."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class Invalid(DomainError):
    """Well-formed input that breaks a rule; ``errors`` names the fields at fault."""

    status = 422
    title = "Unprocessable content"

    @classmethod
    def field(cls, path: str, message: str) -> Invalid:
        return cls(f"{path}: {message}", {path: [message]})


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    """The request clashes with what exists (a code or username already taken)."""

    status = 409
    title = "Conflict"
