"""Render a market's live fragments once and publish them to every server process (feed side)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import redis
from django.template.loader import render_to_string

from markets import live
from markets.hub import market_channel, sign_frame
from markets.models import Market

FRAGMENT_TTL_SECONDS = 3600


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def book_context(
    yes_bids: list[tuple[Decimal, Decimal]],
    no_bids: list[tuple[Decimal, Decimal]],
    *,
    depth: int = 10,
    stale: bool = False,
) -> dict[str, Any]:
    """The ladder as the page shows it: YES asks (from NO bids) above the spread, YES bids below, with totals."""
    bids = sorted(yes_bids, key=lambda level: level[0], reverse=True)[:depth]
    asks = sorted(((Decimal(1) - p, s) for p, s in no_bids), key=lambda level: level[0])[:depth]
    bid_rows, total = [], Decimal(0)
    for price, size in bids:
        total += size
        bid_rows.append({"price": str(price), "size": str(size), "total": str(total)})
    ask_rows, total = [], Decimal(0)
    for price, size in asks:
        total += size
        ask_rows.append({"price": str(price), "size": str(size), "total": str(total)})
    spread = asks[0][0] - bids[0][0] if bids and asks else None
    return {
        "bids": bid_rows,
        "asks": list(reversed(ask_rows)),
        "spread": _s(spread),
        "stale": stale,
        "ts": time.time(),
    }


def quote_from_book(
    yes_bids: list[tuple[Decimal, Decimal]], no_bids: list[tuple[Decimal, Decimal]]
) -> dict[str, Any]:
    best_yes = max(yes_bids, default=None, key=lambda level: level[0])
    best_no = max(no_bids, default=None, key=lambda level: level[0])
    return {
        "yes_bid": _s(best_yes[0]) if best_yes else None,
        "yes_bid_size": _s(best_yes[1]) if best_yes else "0",
        "yes_ask": _s(Decimal(1) - best_no[0]) if best_no else None,
        "yes_ask_size": _s(best_no[1]) if best_no else "0",
        "no_bid": _s(best_no[0]) if best_no else None,
        "no_ask": _s(Decimal(1) - best_yes[0]) if best_yes else None,
    }


def render_update(
    market: Market, quote: dict[str, Any], book: dict[str, Any] | None, trades: list[dict[str, Any]]
) -> dict[str, Any]:
    live.overlay_quote(market, quote)
    ctx = {"market": market, "book": book, "trades": trades[:30], "oob": True}
    row = render_to_string("markets/_fragments.html#row-quote", ctx)
    detail = "".join(
        render_to_string(f"markets/market_detail.html#{name}", ctx)
        for name in ("market-quote", "market-book", "market-trades")
    )
    return {"ticker": market.ticker, "ts": quote.get("ts") or time.time(), "row": row, "detail": detail}


def publish(
    client: redis.Redis,
    ticker: str,
    update: dict[str, Any],
    *,
    quote: dict[str, Any],
    book: dict[str, Any] | None,
    trades: list[dict[str, Any]],
) -> None:
    """Store the latest state for new page loads and publish the rendered update once (signed: the web
    processes drop market frames the feed did not sign)."""
    payload = sign_frame(ticker, json.dumps(update))
    with client.pipeline(transaction=False) as pipe:
        pipe.set(f"kw:frag:{ticker}", payload, ex=FRAGMENT_TTL_SECONDS)
        pipe.set(live.quote_key(ticker), json.dumps(quote), ex=FRAGMENT_TTL_SECONDS)
        if book is not None:
            pipe.set(live.book_key(ticker), json.dumps(book), ex=FRAGMENT_TTL_SECONDS)
        pipe.set(f"kw:trades:{ticker}", json.dumps(trades[:30]), ex=FRAGMENT_TTL_SECONDS)
        pipe.publish(market_channel(ticker), payload)
        pipe.execute()
