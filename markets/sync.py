"""Upsert series, events and markets from Kalshi's REST API into the database, in bulk.

The exchange is the source of truth for these rows: every field here is overwritten on each sync.
10,000 markets are written with a handful of multi-row INSERT … ON CONFLICT statements, not one
query per market.

A sync reads the exchange, then writes what it read: a market whose status the lifecycle stream changed
in between (markets.lifecycle_feed sets `Market.lifecycle_at`) is newer here than in the sync's list, and
the sync leaves that row alone (`read_at`: when the sync began reading). Without that, a market that settled
during a sync was written "finalized" by the stream, then "active" again by the sync, and stayed so (with
its ticket open, no page told) until the next sync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import connection, models, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils import timezone

from kalshiweb.exchange import make_client, run_blocking
from kalshiweb.kalshi import models as k
from kalshiweb.kalshi.errors import KalshiError
from kalshiweb.kalshi.rest import KalshiClient
from markets.models import Event, Market, Series

log = logging.getLogger(__name__)
BATCH = 1000

MARKET_FIELDS = [
    "event",
    "series",
    "title",
    "yes_sub_title",
    "no_sub_title",
    "market_type",
    "status",
    "result",
    "open_time",
    "close_time",
    "expected_expiration_time",
    "rules_primary",
    "rules_secondary",
    "price_level_structure",
    "price_ranges",
    "yes_bid",
    "yes_ask",
    "no_bid",
    "no_ask",
    "yes_bid_size",
    "yes_ask_size",
    "last_price",
    "previous_price",
    "spread",
    "volume",
    "volume_24h",
    "open_interest",
    "synced_at",
]


# The columns (attnames) every sync overwrites, in the order of the INSERT.
MARKET_COLUMNS = [f if f not in ("event", "series") else f"{f}_id" for f in MARKET_FIELDS]


@dataclass
class SyncResult:
    series: int = 0
    events: int = 0
    markets: int = 0
    closed: int = 0  # open here, unknown to the exchange: closed
    seconds: float = 0.0

    def __str__(self) -> str:
        closed = f" ({self.closed} gone from the exchange closed)" if self.closed else ""
        return f"{self.series} series, {self.events} events, {self.markets} markets{closed} in {self.seconds:.2f}s"


def _price_ranges(market: k.Market) -> list[dict[str, str]]:
    return [
        {"start": f"{r.start:.4f}", "end": f"{r.end:.4f}", "step": f"{r.step:.4f}"}
        for r in market.price_ranges
    ]


def market_fields(market: k.Market, series_ticker: str | None, now: object) -> dict[str, Any]:
    """The Market row's column values (attnames) for one exchange market."""
    # Kalshi reports an empty side as bid 0 / ask 1 with size 0: show it as "no price", not 0¢.
    yes_bid = market.yes_bid if market.yes_bid_size > 0 or market.yes_bid > 0 else None
    yes_ask = market.yes_ask if market.yes_ask_size > 0 or market.yes_ask < 1 else None
    spread = yes_ask - yes_bid if yes_bid is not None and yes_ask is not None else None
    return {
        "ticker": market.ticker,
        "event_id": market.event_ticker,
        "series_id": series_ticker,
        "title": market.title or market.yes_sub_title or market.ticker,
        "yes_sub_title": market.yes_sub_title,
        "no_sub_title": market.no_sub_title,
        "market_type": market.market_type,
        "status": market.status,
        "result": market.result or "",
        "open_time": market.open_time,
        "close_time": market.close_time,
        "expected_expiration_time": market.expected_expiration_time,
        "rules_primary": market.rules_primary,
        "rules_secondary": market.rules_secondary,
        "price_level_structure": market.price_level_structure,
        "price_ranges": _price_ranges(market),
        "yes_bid": yes_bid,
        "yes_ask": yes_ask,
        "no_bid": (Decimal(1) - yes_ask) if yes_ask is not None else None,
        "no_ask": (Decimal(1) - yes_bid) if yes_bid is not None else None,
        "yes_bid_size": market.yes_bid_size,
        "yes_ask_size": market.yes_ask_size,
        "last_price": market.last_price if market.last_price > 0 else None,
        "previous_price": market.previous_price if market.previous_price > 0 else None,
        "spread": spread,
        "volume": market.volume,
        "volume_24h": market.volume_24h,
        "open_interest": market.open_interest,
        "synced_at": now,
    }


def market_row(market: k.Market, series_ticker: str | None, now: object) -> Market:
    return Market(**market_fields(market, series_ticker, now))


def upsert_series(items: Iterable[k.Series]) -> int:
    rows = [
        Series(
            ticker=s.ticker,
            title=s.title,
            category=s.category,
            frequency=s.frequency,
            fee_type=s.fee_type or "quadratic",
            fee_multiplier=s.fee_multiplier,
            tags=list(s.tags or ()),
        )
        for s in items
    ]
    Series.objects.bulk_create(
        rows,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["ticker"],
        update_fields=["title", "category", "frequency", "fee_type", "fee_multiplier", "tags"],
    )
    return len(rows)


def upsert_events(items: Iterable[k.Event]) -> int:
    items = list(items)
    known_series = set(Series.objects.values_list("ticker", flat=True))
    missing = {e.series_ticker for e in items} - known_series
    Series.objects.bulk_create([Series(ticker=t) for t in missing if t], ignore_conflicts=True)
    series_category = dict(Series.objects.values_list("ticker", "category"))
    rows = [
        Event(
            event_ticker=e.event_ticker,
            series_id=e.series_ticker or None,
            title=e.title,
            sub_title=e.sub_title,
            category=e.category or series_category.get(e.series_ticker, "") or "",
            mutually_exclusive=e.mutually_exclusive,
            strike_date=e.strike_date,
        )
        for e in items
    ]
    Event.objects.bulk_create(
        rows,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["event_ticker"],
        update_fields=["series", "title", "sub_title", "category", "mutually_exclusive", "strike_date"],
    )
    return len(rows)


def _column_adapters(model: type[models.Model], names: list[str]) -> list[Callable[[Any], Any]]:
    """Per column, what Django's get_db_prep_save does to a value of the type sync produces, minus the
    per-value field machinery (the bulk of bulk_create's cost at 10,000 rows × 29 columns)."""
    ops = connection.ops
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    adapters: list[Callable[[Any], Any]] = []
    for name in names:
        field = by_attname[name]
        kind = field.get_internal_type()
        if kind == "DateTimeField":
            adapters.append(ops.adapt_datetimefield_value)
        elif kind == "DecimalField":
            if type(ops).adapt_decimalfield_value is BaseDatabaseOperations.adapt_decimalfield_value:
                adapters.append(_decimal)  # the backend takes the Decimal as it is (SQLite, PostgreSQL)
            else:
                adapters.append(partial(_adapted_decimal, ops, field.max_digits, field.decimal_places))  # type: ignore[attr-defined]
        elif kind == "JSONField":
            adapters.append(partial(ops.adapt_json_value, encoder=field.encoder))  # type: ignore[attr-defined]
        elif kind in ("CharField", "TextField", "ForeignKey"):
            adapters.append(_text)
        else:  # pragma: no cover - a new column type must be given an adapter on purpose
            raise TypeError(f"no bulk adapter for {model.__name__}.{name} ({kind})")
    return adapters


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def _decimal(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"not a finite Decimal: {value!r}")
    return value


def _adapted_decimal(ops: Any, max_digits: int, places: int, value: Any) -> Any:
    value = _decimal(value)
    return None if value is None else ops.adapt_decimalfield_value(value, max_digits, places)


def _upsert_rows(
    model: type[models.Model],
    names: list[str],
    rows: list[tuple[Any, ...]],
    *,
    unless_changed: tuple[str, datetime] | None = None,
) -> None:
    """INSERT … ON CONFLICT (pk) DO UPDATE SET every other column. SQLite ≥ 3.24 and PostgreSQL share the
    syntax; SQLite takes multi-row statements of up to BATCH rows (fewer if its parameter limit needs it),
    PostgreSQL takes the rows through COPY into a temporary table and one INSERT … SELECT (psycopg would
    otherwise split a 29,000-placeholder statement in Python, or parse and plan one statement per row).

    `unless_changed` (a datetime column's attname, a moment): an existing row whose column is at or after
    the moment is left as it is (checked by the statement itself, against the row as it is then)."""
    if not rows:
        return
    qn = connection.ops.quote_name
    by_attname = {f.attname: str(f.column) for f in model._meta.concrete_fields}
    pk = str(model._meta.pk.column)
    cols = [by_attname[n] for n in names]
    columns = ", ".join(qn(c) for c in cols)
    updates = ", ".join(f"{qn(c)} = EXCLUDED.{qn(c)}" for c in cols if c != pk)
    table = qn(model._meta.db_table)
    conflict = f" ON CONFLICT ({qn(pk)}) DO UPDATE SET {updates}"
    params: list[Any] = []
    if unless_changed is not None:
        column, moment = unless_changed
        changed = f"{table}.{qn(by_attname[column])}"
        conflict += f" WHERE {changed} IS NULL OR {changed} < %s"
        params = [connection.ops.adapt_datetimefield_value(moment)]
    if connection.vendor == "postgresql":
        staging = qn(f"kw_staging_{model._meta.db_table}")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {staging} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            with cursor.cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging}{conflict}", params or None
            )
            cursor.execute(f"DROP TABLE {staging}")
        return
    row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
    max_params = connection.features.max_query_params or 65535
    batch = max(1, min(BATCH, (max_params - len(params)) // len(names)))
    head = f"INSERT INTO {table} ({columns}) VALUES "
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            cursor.execute(
                head + ", ".join([row_sql] * len(chunk)) + conflict,
                [v for row in chunk for v in row] + params,
            )


def close_missing(known: set[str], read_at: datetime | None = None) -> int:
    """Markets still open here that the exchange's complete list no longer has are closed: nobody can trade
    them, and watching them would only have the exchange refuse the subscription. A list read at `read_at`
    says nothing of a market written since (listed as the exchange announced it, or changed by the stream)."""
    still_open = Market.objects.open()
    if read_at is not None:
        still_open = still_open.exclude(synced_at__gte=read_at).exclude(lifecycle_at__gte=read_at)
    gone = [t for t in still_open.values_list("ticker", flat=True) if t not in known]
    if not gone:
        return 0
    log.warning("closing %d market(s) the exchange no longer lists: %s", len(gone), ", ".join(gone[:10]))
    for start in range(0, len(gone), 500):
        Market.objects.filter(ticker__in=gone[start : start + 500]).update(status="closed")
    return len(gone)


def upsert_markets(items: Iterable[k.Market], *, read_at: datetime | None = None) -> int:
    """Write the markets read from the exchange; with `read_at` (when the reading began), not over a row the
    lifecycle stream changed since."""
    items = list(items)
    if not items:
        return 0
    event_series = dict(Event.objects.values_list("event_ticker", "series_id"))
    missing_events = {m.event_ticker for m in items} - set(event_series)
    if missing_events:
        # A market can arrive before its event (paging races a new listing): keep the link with a stub
        # that the next event sync fills in.
        Event.objects.bulk_create([Event(event_ticker=t) for t in missing_events], ignore_conflicts=True)
    now = timezone.now()
    names = ["ticker", *MARKET_COLUMNS]
    adapters = _column_adapters(Market, names)
    rows = []
    for m in items:
        fields = market_fields(m, event_series.get(m.event_ticker), now)
        rows.append(tuple(adapt(fields[name]) for name, adapt in zip(names, adapters, strict=True)))
    _upsert_rows(Market, names, rows, unless_changed=("lifecycle_at", read_at) if read_at else None)
    return len(rows)


async def fetch_all(client: KalshiClient) -> tuple[list[k.Series], list[k.Event], list[k.Market]]:
    """Page through GET /series, /events and /markets (all statuses)."""
    series = await client.get_series_list()
    events = [e async for e in client.iter_events(page_size=200)]
    markets = [m async for m in client.iter_markets(page_size=1000)]
    return series, events, markets


HISTORICAL_BATCH = 100


def unsettled_tickers() -> set[str]:
    return set(Market.objects.exclude(status="finalized").values_list("ticker", flat=True))


async def fetch_archived(api: KalshiClient, missing: list[str]) -> list[k.Market]:
    """Issue #15: markets we hold unsettled that the live list no longer has may have settled and moved past
    Kalshi's historical cutoff; their final state comes from /historical/markets (so they stay browsable,
    settled, with their result). Whatever is in neither list is closed by `close_missing` as before."""
    found: list[k.Market] = []
    try:
        for start in range(0, len(missing), HISTORICAL_BATCH):
            chunk = missing[start : start + HISTORICAL_BATCH]
            page = await api.get_historical_markets(tickers=chunk, limit=HISTORICAL_BATCH)
            found.extend(page.items)
    except KalshiError as exc:
        log.warning("could not read %d archived market(s): %s", len(missing), exc)
        return []
    return found


def sync_markets(client: KalshiClient | None = None) -> SyncResult:
    """Fetch everything from the exchange and upsert it. Synchronous: for the command and the Celery task."""

    unsettled = unsettled_tickers()

    async def _fetch() -> tuple[list[k.Series], list[k.Event], list[k.Market]]:
        own = client is None
        api = client or make_client()
        try:
            series, events, markets = await fetch_all(api)
            missing = sorted(unsettled - {m.ticker for m in markets})
            return series, events, markets + (await fetch_archived(api, missing) if missing else [])
        finally:
            if own:
                await api.aclose()

    started = time.perf_counter()
    read_at = timezone.now()
    series, events, markets = run_blocking(_fetch)
    fetched = time.perf_counter() - started
    result = store(series, events, markets, complete=True, read_at=read_at)
    log.info("synced %s (fetch %.2fs)", result, fetched)
    return result


def sync_listing(
    *, event_ticker: str | None = None, market_ticker: str | None = None, client: KalshiClient | None = None
) -> SyncResult:
    """A listing the exchange has just announced (`event_lifecycle`, or `market_lifecycle_v2` "created"): the
    event with its markets and its series, fetched and stored now rather than at the next full sync."""
    if not (event_ticker or market_ticker):
        raise ValueError("sync_listing needs an event or a market ticker")

    async def _fetch() -> tuple[list[k.Series], list[k.Event], list[k.Market]]:
        own = client is None
        api = client or make_client()
        try:
            markets: dict[str, k.Market] = {}
            event_name = event_ticker
            if market_ticker:
                market = await api.get_market(market_ticker)
                markets[market.ticker] = market
                event_name = market.event_ticker
            assert event_name is not None
            event, nested = await api.get_event(event_name, with_nested_markets=True)
            markets = {m.ticker: m for m in nested} | markets
            series = [await api.get_series(event.series_ticker)] if event.series_ticker else []
            return series, [event], list(markets.values())
        finally:
            if own:
                await api.aclose()

    read_at = timezone.now()
    series, events, markets = run_blocking(_fetch)
    result = store(series, events, markets, read_at=read_at)
    log.info("listed %s", result)
    return result


def store(
    series: Iterable[k.Series],
    events: Iterable[k.Event],
    markets: Iterable[k.Market],
    *,
    complete: bool = False,
    read_at: datetime | None = None,
) -> SyncResult:
    """Write one full sync in a single transaction (readers never see half a sync). `read_at`: when the
    reading began (rows changed since by the lifecycle stream are left alone)."""
    started = time.perf_counter()
    result = SyncResult()
    markets = list(markets)
    with transaction.atomic():
        result.series = upsert_series(series)
        result.events = upsert_events(events)
        result.markets = upsert_markets(markets, read_at=read_at)
        if complete:  # the exchange's whole list: what it lacks is gone
            result.closed = close_missing({m.ticker for m in markets}, read_at)
    if connection.vendor == "postgresql" and result.markets:
        # A sync rewrites every market row: until autovacuum comes round (up to a minute or more) the table
        # holds as many dead rows as live ones, the visibility map is clear (no index-only counts) and the
        # planner's statistics are stale, and the market list's count and search fall back to sequential
        # scans (measured: 22 ms instead of 3 ms for a search count over 10,000 markets). Clean up now;
        # VACUUM cannot run inside a transaction, so a caller's transaction gets ANALYZE alone.
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in (Series, Event, Market))
        with connection.cursor() as cursor:
            cursor.execute(
                f"ANALYZE {tables}" if connection.in_atomic_block else f"VACUUM (ANALYZE) {tables}"
            )
    result.seconds = time.perf_counter() - started
    return result
