"""Errors raised by the domain's rules.

Each says which rule was broken in words a caller can act on; the HTTP layer
maps them to status codes in one place.
"""

from __future__ import annotations

from collections.abc import Iterable


class DomainError(Exception):
    """A rule of the domain refused a command."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidValue(DomainError):
    """A field's value breaks a rule (HTTP 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class IllegalTransition(DomainError):
    """The command is not allowed in the aggregate's current status (HTTP 409)."""

    def __init__(self, command: str, status: str, allowed: Iterable[str]) -> None:
        self.command = command
        self.status = status
        self.allowed = sorted(allowed)
        allowed_text = ", ".join(self.allowed) or "none (the case is final)"
        super().__init__(
            f"cannot {command} when status is '{status}'; allowed now: {allowed_text}"
        )


class Conflict(DomainError):
    """The command clashes with the current state in a way that is not a transition (HTTP 409)."""


class NotPermitted(DomainError):
    """The actor's role or party may not do this (HTTP 403)."""


class NotFound(DomainError):
    """No such object, or not visible to the caller (HTTP 404)."""
