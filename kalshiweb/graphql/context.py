"""Reading the caller from a resolver's `info` (HTTP and WebSocket contexts alike)."""

from __future__ import annotations

from typing import Any

from kalshiweb.graphql.auth import Actor
from kalshiweb.graphql.errors import BAD_INPUT, UNAUTHENTICATED, ApiError


def actor(info: Any) -> Actor:
    context = info.context
    found = context.get("actor") if isinstance(context, dict) else getattr(context, "actor", None)
    if found is None:
        raise ApiError(UNAUTHENTICATED, "Not authenticated.")
    return found


MAX_PAGE = 200


def page(limit: int, offset: int) -> slice:
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(BAD_INPUT, f"limit must be between 1 and {MAX_PAGE}.", field="limit")
    if offset < 0 or offset > 100_000:
        raise ApiError(BAD_INPUT, "offset must be between 0 and 100000.", field="offset")
    return slice(offset, offset + limit)
