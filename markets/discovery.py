"""Discovery on the market pages (issue #15 item 8): the list's tag filter (Kalshi's series tags, as
/search/tags_by_categories groups them) and a sports market's live game state (score, period) from
/live_data, cached briefly in Redis so a page polling every few seconds costs the exchange one call per
event per CACHE_SECONDS whatever the number of viewers."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db.models import QuerySet

from kalshiweb.exchange import make_client, run_blocking
from kalshiweb.kalshi import KalshiError, NotFound
from markets import live
from markets.models import Series

log = logging.getLogger(__name__)

CACHE_SECONDS = 5
SCORE_KEYS = (("away_points", "home_points"), ("away_score", "home_score"))


def tags_by_category() -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for category, tags in Series.objects.values_list("category", "tags"):
        if tags:
            out.setdefault(category or "Other", set()).update(str(t) for t in tags)
    return {c: sorted(t) for c, t in sorted(out.items())}


def filter_by_tag[Q: QuerySet[Any]](markets: Q, tag: str) -> Q:
    """Markets of the series that carry `tag` (JSON containment differs by database: matched here)."""
    series = [ticker for ticker, tags in Series.objects.values_list("ticker", "tags") if tags and tag in tags]
    return markets.filter(series_id__in=series)


def live_game(event_ticker: str) -> dict[str, Any] | None:
    """The event's live data as the page shows it ({"type", "details", "score", "period"}), or None."""
    key = f"kw:livedata:{event_ticker}"
    cached = live.client().get(key)
    if cached is not None:
        return json.loads(cached) or None

    async def fetch() -> Any:
        async with make_client(timeout=3.0, max_attempts=1) as client:
            return await client.get_event_live_data(event_ticker)

    try:
        result = run_blocking(fetch)
        details = dict(result.details)
        data: dict[str, Any] = {"type": result.type, "details": details}
        for away, home in SCORE_KEYS:
            if away in details and home in details:
                data["score"] = f"{details[away]}–{details[home]}"
        if "period" in details:
            data["period"] = details["period"]
        if "clock" in details:
            data["clock"] = details["clock"]
    except NotFound:
        data = {}
    except KalshiError as exc:
        log.info("live data for %s unavailable: %s", event_ticker, exc)
        return None  # not cached: asked again on the next poll
    live.client().set(key, json.dumps(data), ex=CACHE_SECONDS)
    return data or None
