"""The brackets' engine: a feed-leader task (registered in TradingConfig.ready()), so exactly one feed process
runs it at a time and it comes back with the feed after a restart; the brackets themselves are in the database.

Every `POLL_SECONDS` it reads the open brackets, the feed's live quotes of their markets (Redis, one round trip)
and the feed's health, and moves each bracket one step (`trading.brackets.advance`). It also keeps the feed
subscribed to those markets while no browser watches them (`kw:watch:brackets`, refreshed like a server
process's watch set). The stop never triggers while the feed is down or a book is stale.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from markets import live
from trading import brackets

log = logging.getLogger(__name__)
POLL_SECONDS = float(getattr(settings, "KALSHIWEB_BRACKETS_POLL_SECONDS", 0.5))


def feed_is_live(health: dict[str, Any] | None, book: dict[str, Any] | None) -> bool:
    return bool(health and health.get("connected")) and bool(book) and not (book or {}).get("stale")


def run_once() -> dict[str, str]:
    """One pass over the open brackets; returns what happened to each (by id) that changed."""
    open_ = brackets.open_brackets()
    if not open_:
        return {}
    tickers = sorted({b.ticker for b in open_})
    keys = [live.HEALTH_KEY, *(live.quote_key(t) for t in tickers), *(live.book_key(t) for t in tickers)]
    health, *rest = live.get_json_many(keys)
    quotes = dict(zip(tickers, rest[: len(tickers)], strict=True))
    books = dict(zip(tickers, rest[len(tickers) :], strict=True))
    live.keep_watched("brackets", tickers)
    done: dict[str, str] = {}
    for bracket in open_:
        try:
            what = brackets.advance(
                bracket, quotes.get(bracket.ticker), live=feed_is_live(health, books.get(bracket.ticker))
            )
        except Exception:
            log.exception("bracket %s: step failed", bracket.pk)
            continue
        if what:
            log.info("bracket %s (%s): %s", bracket.pk, bracket.ticker, what)
            done[str(bracket.pk)] = what
    return done


def _pass() -> None:
    # In a worker thread of the feed: a connection the database dropped (or too old) is not reused.
    close_old_connections()
    run_once()


class BracketRunner:
    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self.passes = 0

    async def run(self) -> None:
        log.info("brackets: running (every %.2f s)", self.poll_seconds)
        while True:
            try:
                await asyncio.to_thread(_pass)
            except Exception:  # a bad pass never ends the feed's task
                log.exception("brackets: pass failed")
            self.passes += 1
            await asyncio.sleep(self.poll_seconds)
