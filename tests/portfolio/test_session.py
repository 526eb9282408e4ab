"""A scripted trading session on the simulator (buys, a partial sell, more buys, a flip, a maker fill, a
second market of the same mutually exclusive event, settlements), refreshed over real HTTP after every
step: our figures from the stored fills must equal the hand-worked numbers and Kalshi's own
`realized_pnl_dollars` / `market_exposure_dollars` / `fees_paid_dollars`, to the cent."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from decimal import Decimal as D

import pytest

from markets.models import Event, Market, Series
from portfolio import services
from portfolio.models import PortfolioSnapshot, Settlement
from portfolio.pnl import to_cents
from trading.clients import client_for, forget_clients

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def session_markets(sim):
    """A fresh mutually exclusive event with two empty markets (no other liquidity to match against)."""
    from kalshiweb.simulator import engine

    tag = uuid.uuid4().hex[:6].upper()
    series_ticker, event_ticker = f"KXPF{tag}", f"KXPF{tag}-26DEC"
    a, b = f"{event_ticker}-A", f"{event_ticker}-B"

    def create() -> None:
        ex = sim.exchange
        ex.add_series(engine.Series(series_ticker, "Portfolio test", "Economics"))
        ex.add_event(engine.Event(event_ticker, series_ticker, "Which one?", mutually_exclusive=True))
        for ticker, sub in ((a, "Outcome A"), (b, "Outcome B")):
            ex.add_market(
                engine.Market(
                    ticker,
                    event_ticker,
                    series_ticker,
                    f"Will {sub} happen?",
                    sub,
                    f"Not {sub}",
                    open_time=ex.now - timedelta(days=1),
                    close_time=ex.now + timedelta(days=3),
                )
            )

    sim.call(create)
    series = Series.objects.create(ticker=series_ticker, title="Portfolio test")
    event = Event.objects.create(
        event_ticker=event_ticker, series=series, title="Which one?", mutually_exclusive=True
    )
    for ticker, sub in ((a, "Outcome A"), (b, "Outcome B")):
        Market.objects.create(
            ticker=ticker,
            event=event,
            series=series,
            title=f"Will {sub} happen?",
            yes_sub_title=sub,
            status="active",
            price_ranges=[{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        )
    mm = f"pf-mm-{tag}"
    sim.call(sim.exchange.add_account, mm, D("100000"))
    yield a, b, mm
    forget_clients()


def test_a_scripted_session_matches_kalshi_to_the_cent(sim, trader, session_markets):
    a, b, mm = session_markets
    alice, account = trader.sim_user_id, trader.kalshi_account
    client = client_for(account)
    start_balance = client.get_balance().balance

    def order(user: str, ticker: str, side: str, count: str, price: str) -> None:
        # Fills need distinct timestamps (the engine's clock moves only when told to).
        time.sleep(0.01)
        sim.call(lambda: sim.exchange.advance(sim.app.now()))
        sim.call(
            sim.exchange.create_order,
            user,
            ticker=ticker,
            side=side,
            count=D(count),
            price=D(price),
            time_in_force="good_till_canceled",
        )

    def check(ticker: str, position: str, exposure: str, realized: str, fees: str) -> None:
        services.refresh(account, client)
        mine = services.ledger_for(account).market(ticker)
        kalshi = PortfolioSnapshot.objects.get(account=account).kalshi_position(ticker)
        assert mine.position == D(position)
        assert to_cents(mine.cost) == D(exposure)
        assert to_cents(mine.realized) == D(realized)
        assert to_cents(mine.fees) == D(fees)
        # Kalshi's own figures for the same market, from GET /portfolio/positions.
        assert kalshi is not None
        assert kalshi["position"] == D(position)
        assert to_cents(kalshi["market_exposure"]) == D(exposure)
        assert to_cents(kalshi["realized_pnl"]) == D(realized)
        assert to_cents(kalshi["fees_paid"]) == D(fees)
        assert services.cross_check(mine, kalshi) == ""

    # 1. Buy 10 YES at 40¢ as taker: fee ceil(0.07 × 10 × 0.4 × 0.6) = 0.17.
    order(mm, a, "ask", "10", "0.40")
    order(alice, a, "bid", "10", "0.40")
    check(a, "10", "4.00", "0.00", "0.17")
    # 2. Sell 4 YES at 55¢ (taker): realizes 4 × (0.55 − 0.40) = 0.60; fee 0.07.
    order(mm, a, "bid", "4", "0.55")
    order(alice, a, "ask", "4", "0.55")
    check(a, "6", "2.40", "0.60", "0.24")
    # 3. Buy 5 more YES at 50¢: 11 YES at an average of 4.90 / 11; fee 0.09.
    order(mm, a, "ask", "5", "0.50")
    order(alice, a, "bid", "5", "0.50")
    check(a, "11", "4.90", "0.60", "0.33")
    # 4. Flip: sell 20 YES at 30¢ — closes 11 (realizes 3.30 − 4.90 = −1.60), opens 9 NO at 70¢; fee 0.30.
    order(mm, a, "bid", "20", "0.30")
    order(alice, a, "ask", "20", "0.30")
    check(a, "-9", "6.30", "-1.00", "0.63")
    # 5. As maker (no fee): Alice bids 3 YES at 35¢, closing 3 NO held at 70¢: realizes 3 × 0.65 − 2.10 = −0.15.
    order(alice, a, "bid", "3", "0.35")
    order(mm, a, "ask", "3", "0.35")
    check(a, "-6", "4.20", "-1.15", "0.63")
    # 6. The other market of the event: 5 YES at 20¢; fee ceil(0.056) = 0.06.
    order(mm, b, "ask", "5", "0.20")
    order(alice, b, "bid", "5", "0.20")
    check(b, "5", "1.00", "0.00", "0.06")

    # What the page shows, marked at a known mid (A 28/32 → 30¢, B 18/22 → 20¢).
    Market.objects.filter(ticker=a).update(yes_bid=D("0.28"), yes_ask=D("0.32"))
    Market.objects.filter(ticker=b).update(yes_bid=D("0.18"), yes_ask=D("0.22"))
    view = services.build_view(account)
    (group,) = view.groups
    rows = {r.ticker: r for r in group.rows}
    # 6 NO at 70¢ and 5 YES at 20¢, each worth what it cost.
    assert (rows[a].mark.source, rows[a].value, rows[a].unrealized) == ("mid", D("4.20"), D("0"))
    assert rows[b].value == D("1.00") and rows[b].unrealized == D("0")
    assert view.exposure == D("5.20")
    assert to_cents(view.realized) == D("-1.15") and to_cents(view.fees) == D("0.69")
    # If A happens, Alice's NO on A and YES on B both lose; if B happens both pay (6 + 5).
    assert [(o.ticker, o.payoff) for o in group.payoffs] == [(a, D("-5.20")), (b, D("5.80"))]
    assert view.max_loss == D("5.20")
    html = services.render_live(view)
    # shown after the 0.69 of fees paid in these markets (the worst case against what is held stays 5.20)
    assert [o.net for o in group.payoffs] == [D("-5.89"), D("5.11")]
    assert "if “Outcome A”: −$5.89" in html and "if “Outcome B”: +$5.11" in html and "(after fees)" in html
    assert view.mismatches == []

    # 7. Settlement: B wins, A loses (Alice's NO on A pays 6).
    sim.call(sim.exchange.settle_market, a, "no")
    sim.call(sim.exchange.settle_market, b, "yes")
    services.refresh(account, client)
    s_a, s_b = (
        Settlement.objects.get(account=account, ticker=a),
        Settlement.objects.get(account=account, ticker=b),
    )
    assert (s_a.market_result, s_a.no_count, s_a.no_total_cost, s_a.revenue, s_a.fee_cost) == (
        "no",
        D(6),
        D("4.20"),
        D("6.00"),
        D("0.63"),
    )
    assert (s_b.market_result, s_b.yes_count, s_b.yes_total_cost, s_b.revenue) == (
        "yes",
        D(5),
        D("1.00"),
        D("5.00"),
    )
    ledger = services.ledger_for(account)
    assert to_cents(ledger.market(a).realized) == D("0.65")  # −1.15 + (6 − 4.20)
    assert to_cents(ledger.market(b).realized) == D("4.00")
    assert ledger.open_positions() == []
    settled = {p.ticker: p for p in client.get_positions(settlement_status="settled").market_positions}
    assert to_cents(settled[a].realized_pnl) == D("0.65") and to_cents(settled[b].realized_pnl) == D("4.00")
    # Cash: the account ends up realized − fees richer than it started.
    end_balance = client.get_balance().balance
    assert end_balance - start_balance == D("0.65") + D("4.00") - D("0.69")
    assert to_cents(ledger.cash) == end_balance - start_balance
