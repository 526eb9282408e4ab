# ruff: noqa: F811  (the fixtures of tests/trading/test_ticket.py, imported, are parameters here)
"""The ticket's fee preview uses the market's current fee schedule (issue #15 item 4): the series' fee type
and multiplier, or an event override as event_fee_update leaves it; the feed's handler stores the override
and tells the market's pages to re-ask the preview."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kalshiweb.kalshi.messages import parse_message
from markets import fees
from markets.lifecycle_feed import FEE_CHANGED, apply_fee_update
from markets.models import Event, Series
from tests.trading.test_ticket import GOOD, TICKER, alice, fresh_book  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
SERIES, EVENT = TICKER.split("-")[0], "-".join(TICKER.split("-")[:2])
# 10 YES at 44¢ take the 300 offered at 44¢: 0.07 × 10 × 0.44 × 0.56 = 0.17248 → $0.18
CROSSING = {**GOOD, "count": "10", "price_cents": "44"}


def preview(client) -> str:
    return client.post(f"/orders/market/{TICKER}/preview/", CROSSING).content.decode()


def fee_update(fee_type: str | None, multiplier: float | None) -> object:
    return parse_message(
        {
            "type": "event_fee_update",
            "sid": 1,
            "seq": 1,
            "msg": {
                "event_ticker": EVENT,
                "fee_type_override": fee_type,
                "fee_multiplier_override": multiplier,
            },
        }
    )


def test_the_preview_charges_by_the_series_schedule(client, alice, fresh_book):
    assert "Fee $0.18" in preview(client)
    Series.objects.filter(ticker=SERIES).update(fee_type="quadratic", fee_multiplier=D("0.5"))
    body = preview(client)
    assert "Fee $0.09" in body and "(quadratic ×0.5)" in body  # ceil(0.08624)


def test_an_event_fee_update_changes_the_preview_and_clearing_it_restores_the_series(
    client, alice, fresh_book
):
    assert apply_fee_update(fee_update("flat", 2)) == [TICKER]
    assert Event.objects.get(event_ticker=EVENT).fee_type_override == "flat"
    body = preview(client)
    assert "Fee $0.20" in body and "(flat ×2)" in body  # 1¢ × 2 × 10
    apply_fee_update(fee_update(None, None))
    assert "Fee $0.18" in preview(client) and "fee-schedule" not in preview(client)


def test_a_resting_order_on_a_maker_fee_schedule_shows_its_maker_fee(client, alice, fresh_book):
    resting = {**GOOD, "count": "10", "price_cents": "40"}  # below the 44¢ ask: rests whole
    body = client.post(f"/orders/market/{TICKER}/preview/", resting).content.decode()
    assert "Rests on the book" in body and "maker fee" not in body  # the plain schedule has none
    Series.objects.filter(ticker=SERIES).update(fee_type="quadratic_with_maker_fees", fee_multiplier=D("1"))
    body = client.post(f"/orders/market/{TICKER}/preview/", resting).content.decode()
    # 0.0175 × 10 × 0.40 × 0.60 = 0.042 → $0.05, paid if the resting 10 fill
    assert "+ $0.05 maker fee if the resting 10 fill" in body and "Fee $0.00" in body


def test_schedule_fees_match_the_simulators() -> None:
    from kalshiweb.simulator.fees import schedule_fees

    for fee_type in ("quadratic", "quadratic_with_maker_fees", "flat"):
        for count, price in [(D("10"), D("0.44")), (D("3"), D("0.07")), (D("250"), D("0.5"))]:
            schedule = (fee_type, D("0.75"))
            assert (fees.taker_fee(count, price, schedule), fees.maker_fee(count, price, schedule)) == (
                schedule_fees(fee_type, D("0.75"), count, price)
            )


def test_the_fee_signal_names_the_event_the_ticket_listens_for() -> None:
    assert 'data-event="kw:fee-changed"' in FEE_CHANGED
