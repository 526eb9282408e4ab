"""The simulator writes with the same wire types the client reads (kalshiweb/kalshi/types): everything wire.py
builds decodes through the client's types, after a JSON round trip, to the values the engine holds."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

from kalshiweb.kalshi import messages as m
from kalshiweb.kalshi import models as k
from kalshiweb.simulator import wire
from kalshiweb.simulator.engine import BookDelta, Exchange
from tests.simulator.test_engine import NOW, T
from tests.simulator.test_wire import traded  # noqa: F401  (fixture)


def sent(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data))


def frame(type_: str, msg: dict[str, Any]) -> bytes:
    return json.dumps({"type": type_, "sid": 1, "seq": 1, "msg": msg}).encode()


def test_rest_objects_decode_through_the_client_types(traded: Exchange) -> None:  # noqa: F811
    market = k.Market.from_dict(sent(wire.market_json(traded.get_market(T))))
    assert (market.ticker, market.yes_bid, market.yes_ask, market.volume) == (
        T,
        D("0.40"),
        D("0.45"),
        D("4.00"),
    )
    assert market.close_time.tzinfo is not None and market.price_ranges[0].step == D("0.01")
    for acct in traded.accounts.values():
        for o in acct.orders.values():
            order = k.Order.from_dict(sent(wire.order_json(o)))
            assert (order.order_id, order.remaining_count, order.yes_price) == (
                o.order_id,
                o.remaining_count,
                o.yes_price,
            )
        for f in acct.fills:
            fill = k.PortfolioFill.from_dict(sent(wire.fill_json(f)))
            assert (fill.fill_id, fill.count, fill.fee_cost) == (f.fill_id, f.count, f.fee)
        for p in acct.positions.values():
            pos = k.MarketPosition.from_dict(sent(wire.market_position_json(p)))
            assert pos.position == p.position
        k.EventPosition.from_dict(sent(wire.event_position_json("KXTEST-26NOV24", acct.positions.values())))
    for t in traded.trades():
        trade = k.PublicTrade.from_dict(sent(wire.trade_json(t)))
        assert (trade.yes_price, trade.count) == (D("0.45"), D("4"))
    balance = k.Balance.from_dict(sent(wire.balance_json(traded.account("alice"))))
    assert balance.balance == D("9998.13") and balance.balance_cents == 999813
    yes, no = traded.get_market(T).levels("yes"), traded.get_market(T).levels("no")
    book = k.Orderbook.from_book_fp(T, sent(wire.orderbook_fp_json(yes, no)))
    assert book.yes[-1] == (D("0.40"), D("7"))
    traded.settle_market(T, "yes")
    (s,) = traded.account("alice").settlements
    assert k.Settlement.from_dict(sent(wire.settlement_json(s))).revenue_cents == 400


def test_the_catalogue_decodes_through_the_client_types() -> None:
    ex = Exchange(seed=2, now=NOW)
    for e in ex.events.values():
        event = k.Event.from_dict(sent(wire.event_json(e, [ex.markets[t] for t in e.markets])))
        assert len(event.markets) == len(e.markets)
    for s in ex.series.values():
        series = k.Series.from_dict(sent(wire.series_json(s, volume=D("12"))))
        assert series.ticker == s.ticker and series.volume == D("12.00")


def test_ws_messages_decode_through_the_client_types(traded: Exchange) -> None:  # noqa: F811
    market = traded.get_market(T)
    yes, no = market.levels("yes"), market.levels("no")
    snap = m.decode_message(frame("orderbook_snapshot", wire.ws_orderbook_snapshot_msg(market, yes, no)))
    assert isinstance(snap, m.OrderbookSnapshot) and snap.yes[-1] == (D("0.40"), D("7"))
    ev = BookDelta(T, "no", D("0.55"), D("-4"), "bob", "bob-1")
    delta = m.decode_message(
        frame("orderbook_delta", wire.ws_orderbook_delta_msg(market, ev, NOW, viewer_user_id="bob"))
    )
    assert isinstance(delta, m.OrderbookDelta)
    assert (delta.price, delta.delta, delta.side, delta.client_order_id, delta.ts) == (
        D("0.55"),
        D("-4.00"),
        "no",
        "bob-1",
        NOW,
    )
    ticker = m.decode_message(frame("ticker", wire.ws_ticker_msg(market, NOW)))
    assert isinstance(ticker, m.Ticker) and ticker.yes_bid == D("0.40") and ticker.ts == NOW
    trade = m.decode_message(frame("trade", wire.ws_trade_msg(traded.trades()[0])))
    assert isinstance(trade, m.Trade) and trade.count == D("4.00")
    fill = traded.account("alice").fills[0]
    got = m.decode_message(frame("fill", wire.ws_fill_msg(fill, traded.orders[fill.order_id])))
    assert isinstance(got, m.Fill) and (got.order_id, got.count) == (fill.order_id, fill.count)
    for o in traded.orders.values():
        order = m.decode_message(frame("user_order", wire.ws_user_order_msg(o)))
        assert isinstance(order, m.UserOrder) and order.remaining_count == o.remaining_count
        assert order.created_at is not None
    pos = m.decode_message(
        frame("market_position", wire.ws_market_position_msg(traded.account("bob").positions[T], "bob"))
    )
    assert (
        isinstance(pos, m.MarketPositionUpdate)
        and pos.position == traded.account("bob").positions[T].position
    )
