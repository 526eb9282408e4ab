"""The market queries (list, search, one market with its quote and book, as the feed stores them), the
portfolio's staleness and single-flight refresh, and the Decimal scalar."""

from __future__ import annotations

import json
import time
from decimal import Decimal as D

import pytest

from kalshiweb.graphql.scalars import parse_decimal, serialize_decimal
from markets import live
from portfolio.services import lock_key
from tests.factories import make_market
from tests.graphql.conftest import gql

pytestmark = pytest.mark.django_db(transaction=True)


def test_markets_and_market_read_the_desk_and_the_feeds_state(trader, token):
    make_market("KXFED-26DEC-T4.25", volume=D("10"))
    make_market("KXFED-26DEC-T4.50", title="Fed holds?", volume=D("20"))
    listed = gql("{ markets { id } }", token=token)["data"]["markets"]
    assert [m["id"] for m in listed] == ["KXFED-26DEC-T4.50", "KXFED-26DEC-T4.25"]
    found = gql('{ markets(search: "holds", limit: 1) { id title } }', token=token)["data"]["markets"]
    assert found == [{"id": "KXFED-26DEC-T4.50", "title": "Fed holds?"}]
    assert gql('{ markets(status: "settled") { id } }', token=token)["data"]["markets"] == []

    document = '{ market(id: "KXFED-26DEC-T4.25") { id quote { yesBid yesAsk lastPrice } book { bids { price size total } asks { price } spread stale } } }'
    before = gql(document, token=token)["data"]["market"]
    assert before["quote"]["yesBid"] == "0.42" and before["book"] is None  # the synced quote; no book yet
    live.client().set(
        live.quote_key("KXFED-26DEC-T4.25"),
        json.dumps({"yes_bid": "0.45", "yes_ask": "0.47", "last_price": "0.46"}),
    )
    book = {
        "bids": [{"price": "0.45", "size": "10.00", "total": "10.00"}],
        "asks": [{"price": "0.47", "size": "5", "total": "5"}],
        "spread": "0.02",
        "stale": False,
        "ts": time.time(),
    }
    live.client().set(live.book_key("KXFED-26DEC-T4.25"), json.dumps(book))
    after = gql(document, token=token)["data"]["market"]
    assert after["quote"] == {"yesBid": "0.45", "yesAsk": "0.47", "lastPrice": "0.46"}
    assert after["book"] == {
        "bids": [{"price": "0.45", "size": "10", "total": "10"}],
        "asks": [{"price": "0.47"}],
        "spread": "0.02",
        "stale": False,
    }
    assert gql('{ market(id: "NOPE") { id } }', token=token)["data"]["market"] is None


def test_a_stale_portfolio_starts_the_single_flight_refresh(trader, token):
    account = trader.kalshi_account
    result = gql("{ portfolio { isStale lastUpdated refreshing totalValue cash } }", token=token)["data"][
        "portfolio"
    ]
    assert result["isStale"] is True and result["lastUpdated"] is None  # no snapshot yet
    assert result["refreshing"] is True
    assert live.client().exists(lock_key(account.pk))  # the refresh was queued, single-flight


def test_the_decimal_scalar():
    assert (
        parse_decimal("0.42") == D("0.42") and parse_decimal(0.42) == D("0.42") and parse_decimal(3) == D(3)
    )
    for bad in ("1e3", "NaN", "Infinity", "١", "", True, None, [1]):
        with pytest.raises(ValueError):
            parse_decimal(bad)
    assert serialize_decimal(D("0.4200")) == "0.42" and serialize_decimal(D("100.00")) == "100"
