"""Structured errors: every error the API returns carries `extensions.code`, `extensions.retryable` and, for bad
input, `extensions.field` (the input field, in the API's names). Errors not raised as `ApiError` are masked as
INTERNAL (their text stays in the server log), except GraphQL's own validation errors (BAD_REQUEST)."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

log = logging.getLogger(__name__)

BAD_INPUT = "BAD_USER_INPUT"
BAD_REQUEST = "BAD_REQUEST"  # the document itself: syntax, unknown fields, wrong variable types, limits
NOT_FOUND = "NOT_FOUND"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
TRADING_REFUSED = "TRADING_REFUSED"  # halts, a view-only login, stale market data
CONFLICT = "CONFLICT"  # the order changed meanwhile
RATE_LIMITED = "RATE_LIMITED"
INTERNAL = "INTERNAL"

RETRYABLE = {RATE_LIMITED: True, INTERNAL: True}


class ApiError(Exception):
    def __init__(
        self, code: str, message: str, *, field: str | None = None, retryable: bool | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.retryable = RETRYABLE.get(code, False) if retryable is None else retryable

    def extensions(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "retryable": self.retryable}
        if self.field:
            out["field"] = self.field
        return out


class FieldErrors(ApiError):
    """Several input fields are wrong: one GraphQL error per field (`errors()`)."""

    def __init__(self, problems: list[tuple[str | None, str]], code: str = BAD_INPUT) -> None:
        super().__init__(code, "; ".join(m for _, m in problems), field=problems[0][0] if problems else None)
        self.problems = problems


def as_payload(code: str, message: str, *, retryable: bool | None = None) -> dict[str, Any]:
    """A whole response carrying one error, for refusals before the document runs (auth, rate limit)."""
    error = ApiError(code, message, retryable=retryable)
    return {"data": None, "errors": [{"message": message, "extensions": error.extensions()}]}


def shape(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Give every error its extensions (in place, and FieldErrors split into one error per field)."""
    out: list[GraphQLError] = []
    for error in errors:
        original = error.original_error
        if isinstance(original, FieldErrors) and len(original.problems) > 1:
            for field, message in original.problems:
                extra = ApiError(original.code, message, field=field)
                out.append(
                    GraphQLError(message, path=error.path, nodes=error.nodes, extensions=extra.extensions())
                )
            continue
        if isinstance(original, ApiError):
            error.extensions = original.extensions()
        elif original is None or not error.path:
            # GraphQL's own, before anything ran: a syntax or validation error, a variable of the wrong type (the
            # Decimal scalar's message says why), a limit.
            existing = dict(error.extensions or {})
            existing.setdefault("code", BAD_REQUEST)
            existing.setdefault("retryable", False)
            error.extensions = existing
        else:
            log.error("GraphQL resolver failed", exc_info=original)
            error.message = "Internal error: the desk could not complete this request."
            error.extensions = {"code": INTERNAL, "retryable": True}
        out.append(error)
    return out
