"""The rate budget of each account's shared token bucket (kalshiweb.kalshi.ratelimit.RedisRateLimiter), as the
admin's meter shows it: the tokens there are now in the read and write buckets, out of their capacity."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from markets import live
from trading.clients import rate_limit_config
from trading.models import KalshiAccount

log = logging.getLogger(__name__)

PREFIX = "kalshi:rl"  # RedisRateLimiter's default prefix, keyed by the API key id


@dataclass(frozen=True)
class BucketLevel:
    bucket: str
    tokens: float
    capacity: float
    rate: float

    @property
    def share(self) -> float:
        return self.tokens / self.capacity if self.capacity else 0.0


def levels(account: KalshiAccount) -> list[BucketLevel]:
    """The buckets' levels now: the stored tokens refilled for the time since (Redis's own clock, as the limiter
    uses); a bucket never used is full."""
    config = rate_limit_config()
    redis = live.client()
    seconds, micros = redis.time()
    now = seconds + micros / 1_000_000
    out = []
    for bucket in ("read", "write"):
        rate, capacity = config.rate(bucket), config.capacity(bucket)
        tokens_raw, ts_raw = redis.hmget(f"{PREFIX}:{account.api_key_id}:{bucket}", "tokens", "ts")
        tokens = capacity
        if tokens_raw is not None and ts_raw is not None:
            tokens = min(capacity, float(tokens_raw) + max(0.0, now - float(ts_raw)) * rate)
        out.append(BucketLevel(bucket, tokens, capacity, rate))
    return out


def meter_html(account: KalshiAccount) -> SafeString:
    try:
        rows = levels(account)
    except Exception as exc:  # the admin page must render with Redis down
        log.warning("rate budget of %s unreadable: %s", account.name, exc)
        return format_html('<span class="error">unavailable</span>')
    return format_html_join(
        " ",
        '<span class="rate-meter" title="{} bucket: {} of {} tokens, refills {}/s">{} '
        '<meter min="0" max="{}" low="{}" optimum="{}" value="{}"></meter> {}%</span>',
        (
            (
                b.bucket,
                f"{b.tokens:.0f}",
                f"{b.capacity:.0f}",
                f"{b.rate:.0f}",
                b.bucket,
                f"{b.capacity:.0f}",
                f"{b.capacity * 0.2:.0f}",
                f"{b.capacity:.0f}",
                f"{b.tokens:.0f}",
                f"{b.share * 100:.0f}",
            )
            for b in rows
        ),
    )
