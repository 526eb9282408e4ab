"""Kalshi-shaped JSON for the simulator's objects (protocol §6, §7.6, §10).

Every function returns a plain dict whose keys and JSON value types are exactly Kalshi's current ones:
prices as 4-decimal dollar strings ("0.4200"), order costs and fees as 6-decimal dollar strings
("0.010000"), contract counts as 2-decimal strings ("10.00"), RFC3339 UTC timestamps with a `Z`, and the
few integer money fields (balance, revenue...) in cents. WS builders return only the `msg` part; the
server adds `type`, `sid` and `seq`.

Each object is built as the wire type the client decodes (``kalshiweb.kalshi.types``: one declaration for
both sides) and turned into that dict by msgspec; ``q4``/``q6``/``q2`` give values the wire's number of places.
The market lifecycle message (free-form engine data) and the fixed-point/time string helpers used by
candles.py and the tests are still written here by hand.

Slightly over 600 lines: one builder per Kalshi object, which read best side by side with the types.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

import msgspec
from msgspec import UNSET

from kalshiweb.kalshi.types import rest, ws
from kalshiweb.simulator.events import BookDelta, LifecycleEvent, OrderGroupEvent
from kalshiweb.simulator.model import (
    ONE,
    ZERO,
    Account,
    Event,
    Fill,
    Market,
    Order,
    Position,
    Series,
    Settlement,
    Trade,
    unix,
    unix_ms,
)
from kalshiweb.simulator.model import json_number as _json_number

Levels = list[tuple[Decimal, Decimal]]

_Q4 = Decimal("0.0001")
_Q6 = Decimal("0.000001")
_Q2 = Decimal("0.01")


# The wire's fixed-point strings and timestamps are pure functions of the value, and a catalogue repeats the
# same few prices, counts and times thousands of times: memoise them (bounded; cleared when full). Zero is
# never memoised (Decimal("-0") == Decimal("0") but quantizes to "-0.0000"), nor anything unhashable.
_MEMO_MAX = 8192
_rfc3339_memo: dict[datetime, str] = {}


def dollars(d: Decimal) -> str:
    """Price / dollar amount with 4 decimals: Decimal('0.42') -> '0.4200'."""
    return str(q4(d))


def dollars6(d: Decimal) -> str:
    """Cost / fee amount with 6 decimals: Decimal('0.01') -> '0.010000'."""
    return str(q6(d))


def count_fp(d: Decimal) -> str:
    """Contract count with 2 decimals: Decimal('10') -> '10.00'."""
    return str(q2(d))


_q4_memo: dict[Decimal, Decimal] = {}
_q6_memo: dict[Decimal, Decimal] = {}
_q2_memo: dict[Decimal, Decimal] = {}


def _quantized(d: Decimal, q: Decimal, memo: dict[Decimal, Decimal]) -> Decimal:
    """The value with exactly the wire's places, so msgspec writes it as the wire's fixed-point string."""
    if not d:
        return Decimal(d).quantize(q, rounding=ROUND_HALF_EVEN)
    try:
        return memo[d]
    except KeyError:
        pass
    except TypeError:  # unhashable (a signalling NaN): no memo
        return Decimal(d).quantize(q, rounding=ROUND_HALF_EVEN)
    value = Decimal(d).quantize(q, rounding=ROUND_HALF_EVEN)
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[d] = value
    return value


def q4(d: Decimal) -> Decimal:
    """A price / dollar amount with 4 places: encodes as "0.4200"."""
    return _quantized(d, _Q4, _q4_memo)


def q6(d: Decimal) -> Decimal:
    """A cost / fee with 6 places: encodes as "0.010000"."""
    return _quantized(d, _Q6, _q6_memo)


def q2(d: Decimal) -> Decimal:
    """A contract count with 2 places: encodes as "10.00"."""
    return _quantized(d, _Q2, _q2_memo)


def _levels(levels: Levels, depth: int = 0) -> Any:
    """[[price, count], ...] for a ``Levels`` field (lists, not tuples: the server's dicts are compared and
    merged as plain JSON values)."""
    if depth and depth > 0:
        levels = levels[-depth:]  # ascending; the best bids are last
    return [[q4(p), q2(c)] for p, c in levels]


def _encode(body: msgspec.Struct, *, keep_null: tuple[str, ...] = ()) -> dict[str, Any]:
    """A wire type as the JSON-ready dict the server sends. Optional fields left unset are omitted, except the
    wire keys in ``keep_null``, which Kalshi always sends (``null`` when unset)."""
    out: dict[str, Any] = msgspec.to_builtins(body)
    for key in keep_null:
        out.setdefault(key, None)
    return out


def _as_list(items: Iterable[Any]) -> Any:
    """A list for a tuple-typed field: the server's dicts hold plain JSON values (lists), as before."""
    return list(items)


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is UTC else dt.astimezone(UTC)


def cents(d: Decimal) -> int:
    return int((Decimal(d) * 100).to_integral_value(rounding=ROUND_FLOOR))


def _rfc3339(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339(dt: datetime) -> str:
    # Memoised only for UTC datetimes: equal instants then print alike (zones with a DST fold can compare
    # two different instants as equal).
    if dt.tzinfo is not UTC:
        return _rfc3339(dt)
    text = _rfc3339_memo.get(dt)
    if text is None:
        text = _rfc3339(dt)
        if len(_rfc3339_memo) >= _MEMO_MAX:
            _rfc3339_memo.clear()
        _rfc3339_memo[dt] = text
    return text


def _ts(ts: datetime | int | float) -> datetime:
    """WS builders take an aware datetime, or a Unix time (seconds, or milliseconds when > 1e11)."""
    if isinstance(ts, datetime):
        return ts.astimezone(UTC)
    value = float(ts)
    if value > 1e11:
        value /= 1000
    return datetime.fromtimestamp(value, UTC)


def price_ranges_json(m: Market) -> list[dict[str, str]]:
    return [
        {"start": dollars(r.start), "end": dollars(r.end), "step": dollars(r.step)} for r in m.price_ranges
    ]


# ---------------------------------------------------------------------------------------- REST objects


def market_json(m: Market) -> dict[str, Any]:
    created = m.created_time or m.open_time
    # The top of each side once (the yes_bid/yes_ask/... properties would each walk the book again).
    best_yes, best_no = m.best("yes"), m.best("no")
    yes_bid, yes_bid_size = best_yes if best_yes else (ZERO, ZERO)
    no_bid, yes_ask_size = best_no if best_no else (ZERO, ZERO)
    yes_ask = ONE - best_no[0] if best_no else ONE
    no_ask = ONE - best_yes[0] if best_yes else ONE
    close = _utc(m.close_time)
    latest = _utc(m.latest_expiration_time) if m.latest_expiration_time else close
    market = rest.Market(
        ticker=m.ticker,
        event_ticker=m.event_ticker,
        market_type="binary",
        title=m.title,
        subtitle=m.subtitle,
        yes_sub_title=m.yes_sub_title,
        no_sub_title=m.no_sub_title,
        created_time=_utc(created),
        updated_time=_utc(m.updated_time or created),
        open_time=_utc(m.open_time),
        close_time=close,
        expected_expiration_time=_utc(m.expected_expiration_time) if m.expected_expiration_time else close,
        expiration_time=latest,
        latest_expiration_time=latest,
        settlement_timer_seconds=int(m.settlement_timer_seconds),
        status=m.status,
        yes_bid=q4(yes_bid),
        yes_bid_size=q2(yes_bid_size),
        yes_ask=q4(yes_ask),
        yes_ask_size=q2(yes_ask_size),
        no_bid=q4(no_bid),
        no_ask=q4(no_ask),
        last_price=q4(m.last_price),
        volume=q2(m.volume),
        volume_24h=q2(m.volume_24h),
        result=m.result,
        can_close_early=m.can_close_early,
        open_interest=q2(m.open_interest),
        notional_value=q4(m.notional_value),
        previous_yes_bid=q4(m.previous_yes_bid),
        previous_yes_ask=q4(m.previous_yes_ask),
        previous_price=q4(m.previous_price),
        settlement_bounds_type="default",
        settlement_value=None if m.settlement_value is None else q4(m.settlement_value),
        settlement_ts=None if m.settlement_ts is None else _utc(m.settlement_ts),
        expiration_value=m.expiration_value,
        rules_primary=m.rules_primary,
        rules_secondary=m.rules_secondary,
        price_level_structure=m.price_level_structure,
        price_ranges=_as_list(
            ws.PriceRange(start=q4(r.start), end=q4(r.end), step=q4(r.step)) for r in m.price_ranges
        ),
        exchange_index=0,
        strike_type=m.strike_type or None,
        floor_strike=None if m.floor_strike is None else _json_number(m.floor_strike),
        cap_strike=None if m.cap_strike is None else _json_number(m.cap_strike),
    )
    return _encode(market, keep_null=("title", "subtitle"))


def event_json(e: Event, markets: Iterable[Market] | None = None) -> dict[str, Any]:
    out = _encode(
        rest.Event(
            event_ticker=e.event_ticker,
            series_ticker=e.series_ticker,
            sub_title=e.sub_title,
            title=e.title,
            collateral_return_type=e.collateral_return_type,
            mutually_exclusive=e.mutually_exclusive,
            category=e.category,
            settlement_sources=[dict(s) for s in e.settlement_sources],
            available_on_brokers=False,
            exchange_index=0,
            strike_date=None if e.strike_date is None else _utc(e.strike_date),
            strike_period=e.strike_period,
            last_updated=None if e.last_updated is None else _utc(e.last_updated),
        ),
        keep_null=("category",),
    )
    if markets is not None:
        out["markets"] = [market_json(m) for m in markets]
    return out


def series_json(s: Series, volume: Decimal | None = None) -> dict[str, Any]:
    return _encode(
        rest.Series(
            ticker=s.ticker,
            frequency=s.frequency,
            title=s.title,
            category=s.category,
            categories=[s.category],
            tags=_as_list(s.tags),
            settlement_sources=[dict(x) for x in s.settlement_sources],
            contract_url=s.contract_url,
            contract_terms_url=s.contract_terms_url,
            fee_type=s.fee_type,
            fee_multiplier=_json_number(s.fee_multiplier),  # type: ignore[arg-type]  # a JSON number
            additional_prohibitions=list(s.additional_prohibitions),
            exchange_index=0,
            volume=None if volume is None else q2(volume),
            last_updated=None if s.last_updated is None else _utc(s.last_updated),
        )
    )


def order_json(o: Order) -> dict[str, Any]:
    return _encode(
        rest.Order(
            order_id=o.order_id,
            user_id=o.user_id,
            client_order_id=o.client_order_id or "",
            ticker=o.ticker,
            side=o.outcome_side,
            action="buy",
            outcome_side=o.outcome_side,
            book_side=o.book_side,
            type="limit",
            status=o.status,
            yes_price=q4(o.yes_price),
            no_price=q4(o.no_price),
            fill_count=q2(o.fill_count),
            remaining_count=q2(o.remaining_count),
            initial_count=q2(o.initial_count),
            taker_fill_cost=q6(o.taker_fill_cost),
            maker_fill_cost=q6(o.maker_fill_cost),
            taker_fees=q6(o.taker_fees),
            maker_fees=q6(o.maker_fees),
            expiration_time=_utc(o.expiration_time) if o.expiration_time else None,
            created_time=_utc(o.created_time),
            last_update_time=_utc(o.last_update_time),
            self_trade_prevention_type=o.self_trade_prevention_type,
            order_group_id=o.order_group_id,
            cancel_order_on_pause=o.cancel_order_on_pause,
            subaccount_number=o.subaccount,
            exchange_index=0,
        ),
        keep_null=(
            "expiration_time",
            "self_trade_prevention_type",
            "order_group_id",
            "cancel_order_on_pause",
            "subaccount_number",
        ),
    )


def fill_json(f: Fill) -> dict[str, Any]:
    return _encode(
        rest.PortfolioFill(
            fill_id=f.fill_id,
            exchange_index=0,
            trade_id=f.trade_id,
            order_id=f.order_id,
            ticker=f.ticker,
            market_ticker=f.ticker,
            side=f.outcome_side,
            action="buy",
            outcome_side=f.outcome_side,
            book_side=f.book_side,
            count=q2(f.count),
            yes_price=q4(f.yes_price),
            no_price=q4(f.no_price),
            is_taker=f.is_taker,
            created_time=_utc(f.created_time),
            fee_cost=q6(f.fee),
            subaccount_number=f.subaccount,
            ts=unix(f.created_time),
        ),
        keep_null=("subaccount_number",),
    )


def trade_json(t: Trade) -> dict[str, Any]:
    return _encode(
        rest.PublicTrade(
            trade_id=t.trade_id,
            ticker=t.ticker,
            count=q2(t.count),
            yes_price=q4(t.yes_price),
            no_price=q4(t.no_price),
            taker_side=t.taker_outcome_side,
            taker_outcome_side=t.taker_outcome_side,
            taker_book_side=t.taker_book_side,
            created_time=_utc(t.created_time),
            is_block_trade=t.is_block_trade,
        )
    )


def settlement_json(s: Settlement) -> dict[str, Any]:
    return _encode(
        rest.Settlement(
            ticker=s.ticker,
            exchange_index=0,
            event_ticker=s.event_ticker,
            market_result=s.market_result,
            yes_count=q2(s.yes_count),
            yes_total_cost=q4(s.yes_total_cost),
            no_count=q2(s.no_count),
            no_total_cost=q4(s.no_total_cost),
            revenue_cents=cents(s.revenue),
            settled_time=_utc(s.settled_time),
            fee_cost=q4(s.fee_cost),
            value_cents=s.value,
        ),
        keep_null=("value",),
    )


def market_position_json(p: Position) -> dict[str, Any]:
    return _encode(
        rest.MarketPosition(
            ticker=p.ticker,
            exchange_index=0,
            total_traded=q4(p.total_traded),
            position=q2(p.position),
            market_exposure=q4(p.market_exposure),
            realized_pnl=q4(p.realized_pnl),
            fees_paid=q4(p.fees_paid),
            last_updated=_utc(p.last_updated) if p.last_updated else datetime.fromtimestamp(0, UTC),
        )
    )


def event_position_json(event_ticker: str, positions: Iterable[Position]) -> dict[str, Any]:
    """Aggregate of one user's market positions within `event_ticker`."""
    ps = [p for p in positions if p.event_ticker == event_ticker]
    return _encode(
        rest.EventPosition(
            event_ticker=event_ticker,
            total_cost=q4(sum((p.total_traded for p in ps), ZERO)),
            total_cost_shares=q2(sum((p.volume for p in ps), ZERO)),
            event_exposure=q4(sum((p.market_exposure for p in ps), ZERO)),
            realized_pnl=q4(sum((p.realized_pnl for p in ps), ZERO)),
            fees_paid=q4(sum((p.fees_paid for p in ps), ZERO)),
        )
    )


def balance_json(acct: Account, now: datetime | None = None) -> dict[str, Any]:
    """GetBalanceResponse: `balance` is the available cash (resting-order collateral excluded)."""
    when = now or acct.updated or datetime.fromtimestamp(0, UTC)
    out = _encode(
        rest.Balance(
            balance_cents=cents(acct.balance),
            balance=q4(acct.balance),
            portfolio_value_cents=cents(acct.portfolio_value),
            updated=when,
            balance_breakdown=[{"exchange_index": 0, "balance": dollars(acct.balance)}],
        )
    )
    out["updated_ts"] = unix(when)  # Unix seconds on the wire (the type reads them into a datetime)
    return out


def orderbook_fp_json(yes: Levels, no: Levels, depth: int = 0) -> dict[str, Any]:
    """The `orderbook_fp` object of GET /markets/{ticker}/orderbook (depth <= 0 = all levels)."""
    return _encode(rest.OrderbookFp(yes=_levels(yes, depth), no=_levels(no, depth)))


# ---------------------------------------------------------------------------------------- WS msgs


def _no_levels(no: Levels, use_yes_price: bool) -> Levels:
    if not use_yes_price:
        return list(no)
    return sorted((ONE - p, c) for p, c in no)


def ws_orderbook_snapshot_msg(
    market: Market, yes: Levels, no: Levels, use_yes_price: bool = False
) -> dict[str, Any]:
    return _encode(
        ws.OrderbookSnapshotBody(
            market_ticker=market.ticker,
            market_id=market.market_id,
            yes=_levels(yes) or (),  # an empty side is left out
            no=_levels(_no_levels(no, use_yes_price)) or (),
        )
    )


def ws_orderbook_delta_msg(
    market: Market,
    ev: BookDelta,
    ts: datetime | int | float,
    use_yes_price: bool = False,
    viewer_user_id: str | None = None,
) -> dict[str, Any]:
    """`client_order_id`/`subaccount` appear only for the subscriber whose order caused the change:
    pass that subscriber's user id as `viewer_user_id`."""
    when = _ts(ts)
    price = ONE - ev.price if (use_yes_price and ev.side == "no") else ev.price
    mine = viewer_user_id is not None and viewer_user_id == ev.user_id
    return _encode(
        ws.OrderbookDeltaBody(
            market_ticker=market.ticker,
            market_id=market.market_id,
            price=q4(price),
            delta=q2(ev.delta),
            side=ev.side,  # type: ignore[arg-type]  # the engine's sides are "yes" | "no"
            client_order_id=ev.client_order_id if mine else None,
            subaccount=ev.subaccount if mine else None,
            legacy_ts=rfc3339(when),
            ts_ms=unix_ms(when),
        )
    )


def ws_ticker_msg(market: Market, ts: datetime | int | float) -> dict[str, Any]:
    when = _ts(ts)
    return _encode(
        ws.TickerBody(
            market_id=market.market_id,
            market_ticker=market.ticker,
            price=q4(market.last_price),
            yes_bid=q4(market.yes_bid),
            yes_ask=q4(market.yes_ask),
            volume=q2(market.volume),
            open_interest=q2(market.open_interest),
            dollar_volume=int(market.dollar_volume),
            dollar_open_interest=int(market.open_interest * market.last_price),
            yes_bid_size=q2(market.yes_bid_size),
            yes_ask_size=q2(market.yes_ask_size),
            last_trade_size=q2(market.last_trade_size),
            ts_s=unix(when),
            ts_ms=unix_ms(when),
            time=rfc3339(when),
        )
    )


def ws_trade_msg(trade: Trade) -> dict[str, Any]:
    return _encode(
        ws.TradeBody(
            trade_id=trade.trade_id,
            market_ticker=trade.ticker,
            yes_price=q4(trade.yes_price),
            no_price=q4(trade.no_price),
            count=q2(trade.count),
            taker_side=trade.taker_outcome_side,
            taker_outcome_side=trade.taker_outcome_side,
            taker_book_side=trade.taker_book_side,
            is_block_trade=trade.is_block_trade,
            ts_s=unix(trade.created_time),
            ts_ms=unix_ms(trade.created_time),
        )
    )


def ws_fill_msg(fill: Fill, order: Order | None = None) -> dict[str, Any]:
    return _encode(
        ws.FillBody(
            trade_id=fill.trade_id,
            order_id=fill.order_id,
            client_order_id=fill.client_order_id if order is None else order.client_order_id,
            market_ticker=fill.ticker,
            exchange_index=0,
            is_taker=fill.is_taker,
            side=fill.outcome_side,
            yes_price=q4(fill.yes_price),
            count=q2(fill.count),
            fee_cost=q6(fill.fee),
            action="buy",
            ts_s=unix(fill.created_time),
            ts_ms=unix_ms(fill.created_time),
            post_position=q2(fill.post_position),
            purchased_side=fill.outcome_side,
            outcome_side=fill.outcome_side,
            book_side=fill.book_side,
            subaccount=fill.subaccount,
        )
    )


def ws_user_order_msg(order: Order) -> dict[str, Any]:
    expires = order.expiration_time
    return _encode(
        ws.UserOrderBody(
            order_id=order.order_id,
            user_id=order.user_id,
            ticker=order.ticker,
            exchange_index=0,
            status=order.status,
            side=order.outcome_side,
            is_yes=order.outcome_side == "yes",
            outcome_side=order.outcome_side,
            book_side=order.book_side,
            yes_price=q4(order.yes_price),
            fill_count=q2(order.fill_count),
            remaining_count=q2(order.remaining_count),
            initial_count=q2(order.initial_count),
            taker_fill_cost=q6(order.taker_fill_cost),
            maker_fill_cost=q6(order.maker_fill_cost),
            taker_fees=q6(order.taker_fees),
            maker_fees=q6(order.maker_fees),
            client_order_id=order.client_order_id or "",
            order_group_id=order.order_group_id,
            self_trade_prevention_type=order.self_trade_prevention_type,
            legacy_created_time=rfc3339(order.created_time),
            created_ts_ms=unix_ms(order.created_time),
            legacy_last_update_time=rfc3339(order.last_update_time),
            last_updated_ts_ms=unix_ms(order.last_update_time),
            last_update_reason=order.last_update_reason or None,
            legacy_expiration_time=rfc3339(expires) if expires is not None else UNSET,
            expiration_ts_ms=unix_ms(expires) if expires is not None else None,
            subaccount_number=order.subaccount,
        )
    )


def ws_market_position_msg(position: Position, user_id: str, subaccount: int = 0) -> dict[str, Any]:
    return _encode(
        ws.MarketPositionBody(
            user_id=user_id,
            market_ticker=position.ticker,
            position=q2(position.position),
            position_cost=q4(position.cost),
            realized_pnl=q4(position.realized_pnl),
            fees_paid=q4(position.fees_paid),
            position_fee_cost=q4(position.position_fee_cost),
            volume=q2(position.volume),
            subaccount=subaccount,
        )
    )


def ws_market_lifecycle_msg(ev: LifecycleEvent) -> dict[str, Any]:
    msg: dict[str, Any] = {"market_ticker": ev.ticker}
    msg.update(ev.data)
    msg["event_type"] = ev.event_type
    return msg


# --- order groups ----------------------------------------------------------------------------------------------


def ws_order_group_msg(ev: OrderGroupEvent, ts: datetime) -> dict[str, Any]:
    limit = None if ev.contracts_limit is None else q2(ev.contracts_limit)
    body = ws.OrderGroupUpdateBody(
        event_type=ev.event_type, order_group_id=ev.order_group_id, ts_ms=unix_ms(ts), contracts_limit=limit
    )
    return _encode(body)
