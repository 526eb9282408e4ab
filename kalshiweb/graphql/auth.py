"""Who is asking: the browser session, or an API token (`Authorization: Bearer kwt_…`), and the per-caller rate
limit. A token acts as its user and sees exactly what that user sees; a read-only token cannot mutate."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone

from kalshiweb.graphql.errors import FORBIDDEN, RATE_LIMITED, UNAUTHENTICATED, ApiError
from kalshiweb.models import ApiToken, digest
from markets import live

# Scripts may ask this often per minute (per token; per user for the browser session): one script cannot
# starve the desk. Settings: KALSHIWEB_API_RATE_PER_MINUTE.
DEFAULT_RATE_PER_MINUTE = 120
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass
class Actor:
    user: Any
    token: ApiToken | None = None

    @property
    def read_only(self) -> bool:
        return self.token is not None and self.token.read_only

    @property
    def rate_key(self) -> str:
        return f"t{self.token.pk}" if self.token is not None else f"u{self.user.pk}"

    def require_write(self) -> None:
        if self.read_only:
            raise ApiError(FORBIDDEN, "This API token is read-only: it cannot place, amend or cancel orders.")


def bearer(header: str) -> str | None:
    """The token in an `Authorization` value ("Bearer kwt_…"), or None when it names none."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate_token(raw: str) -> ApiToken:
    """The active token with this value, with its user; ApiError(UNAUTHENTICATED) otherwise (the same message
    for an unknown, revoked or expired token: a caller learns nothing about other tokens)."""
    token = (
        ApiToken.objects.select_related("user").filter(token_digest=digest(raw)).first()
        if raw.isascii() and len(raw) < 200
        else None
    )
    now = timezone.now()
    if token is None or not token.is_active(now) or not token.user.is_active:
        raise ApiError(UNAUTHENTICATED, "The API token is invalid, expired or revoked.")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def actor_for(user: Any, authorization: str | None) -> Actor:
    """The caller: a token when an Authorization header is given (it wins over the session), else the session's
    user; ApiError(UNAUTHENTICATED) when neither is there."""
    if authorization:
        raw = bearer(authorization)
        if raw is None:
            raise ApiError(UNAUTHENTICATED, "Use `Authorization: Bearer <token>`.")
        token = authenticate_token(raw)
        return Actor(token.user, token)
    if user is not None and user.is_authenticated:
        return Actor(user)
    raise ApiError(UNAUTHENTICATED, "Log in, or send an API token as `Authorization: Bearer <token>`.")


def rate_per_minute() -> int:
    return int(getattr(settings, "KALSHIWEB_API_RATE_PER_MINUTE", DEFAULT_RATE_PER_MINUTE))  # settings.py


def check_rate(actor: Actor) -> None:
    """Count one request against the caller's budget for this minute (a fixed window in Redis, shared by every
    server process); ApiError(RATE_LIMITED, retryable) past it. Redis down: allowed (the desk keeps working)."""
    limit = rate_per_minute()
    if limit <= 0:
        return
    window = int(time.time() // 60)
    key = f"kw:gql:rate:{actor.rate_key}:{window}"
    try:
        pipe = live.client().pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = pipe.execute()
    except redis.RedisError:
        return
    if int(count) > limit:
        retry_in = 60 - int(time.time()) % 60
        raise ApiError(
            RATE_LIMITED,
            f"Rate limit: at most {limit} requests a minute. Try again in {retry_in} s.",
            retryable=True,
        )
