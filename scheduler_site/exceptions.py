"""Domain errors: one class per rule, each knowing its HTTP status (translated once, in errors.py)."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(DomainError):
    """The task state machine has no edge from the current status to the one asked for."""

    status_code = 409
    code = "invalid_transition"


class StaleAttempt(DomainError):
    """A report names an attempt (or node) that no longer holds the task: the sender must kill its copy."""

    status_code = 409
    code = "stale_attempt"


class NodeNameTaken(DomainError):
    status_code = 409
    code = "node_name_taken"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    """Signed in, but this user may not see or do this (another user's private data or task)."""

    status_code = 403
    code = "forbidden"


class QuotaExceeded(DomainError):
    """A limit of the user's or group's quota is reached (the submit is refused, nothing written)."""

    status_code = 429
    code = "quota_exceeded"
