"""Sizing from the trader's own probability (trading.sizing): Decimal math, input errors, the htmx endpoint."""

from __future__ import annotations

import json
import time
from decimal import ROUND_CEILING, ROUND_FLOOR
from decimal import Decimal as D

import pytest

from markets import live
from tests.factories import make_market, make_user
from trading import sizing
from trading.brackets_models import SizingSetting
from trading.models import KalshiAccount, TraderProfile

TICKER = "KXFED-26DEC-T4.25"


@pytest.mark.parametrize(
    ("raw", "p"), [("63", D("0.63")), ("63%", D("0.63")), (" 63.5 % ", D("0.635")), ("0.5", D("0.005"))]
)
def test_a_probability_is_read_as_a_percentage(raw, p):
    assert sizing.parse_probability(raw) == p


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Type your probability"),
        ("abc", "digits only"),
        ("٦٣", "digits only"),  # Arabic-Indic digits
        ("-5", "digits only"),
        ("1.2.3", "digits only"),
        ("0", "between 0% and 100%"),
        ("100", "between 0% and 100%"),
        ("1e2", "digits only"),
    ],
)
def test_a_bad_probability_says_what_to_type(raw, message):
    with pytest.raises(sizing.SizingError, match=message):
        sizing.parse_probability(raw)


@pytest.mark.parametrize("raw", ["0", "1.5", "abc", "-0.5", "NaN", "inf"])
def test_a_bad_kelly_fraction_is_refused(raw):
    with pytest.raises(sizing.SizingError, match="Kelly fraction"):
        sizing.parse_multiplier(raw, D("0.5"))


def test_an_empty_kelly_fraction_is_the_saved_one():
    assert sizing.parse_multiplier("", D("0.25")) == D("0.25")
    assert sizing.parse_multiplier("0.333", D("0.25")) == D("0.33")


def test_yes_with_an_edge_over_the_ask_and_its_fee():
    s = sizing.size(D("0.63"), yes_bid=D("0.53"), yes_ask=D("0.55"), balance=D("1000"), multiplier=D("0.5"))
    cost = D("0.55") + D("0.07") * D("0.55") * D("0.45")  # the ask and Kalshi's taker fee per contract
    kelly = (D("0.63") - cost) / (1 - cost)
    assert s.side == "yes" and s.price == D("0.55") and s.cost == cost
    assert s.edge == D("0.63") - cost and s.kelly == kelly and s.fraction == kelly / 2
    stake = (D("1000") * kelly / 2).quantize(D("0.01"), rounding=ROUND_FLOOR)
    assert s.stake == stake
    fee = (D("0.07") * s.contracts * D("0.55") * D("0.45")).quantize(D("0.01"), rounding=ROUND_CEILING)
    assert s.fee == fee
    assert s.contracts * D("0.55") + fee <= stake < (s.contracts + 2) * cost  # whole contracts the stake buys
    assert s.contracts == 127
    assert all(isinstance(v, D) for v in (s.edge, s.kelly, s.fraction, s.stake, s.contracts, s.fee))
    assert (s.edge_display, s.kelly_display) == ("+6.3¢", "14.5%")


def test_no_when_the_trader_thinks_yes_is_overpriced():
    s = sizing.size(D("0.30"), yes_bid=D("0.40"), yes_ask=D("0.42"), balance=D("100"), multiplier=D("1"))
    cost = D("0.60") + D("0.07") * D("0.60") * D("0.40")
    assert s.side == "no" and s.price == D("0.60") and s.edge == D("0.70") - cost
    assert s.kelly == (D("0.70") - cost) / (1 - cost)
    assert s.yes_edge is not None and s.yes_edge < 0


def test_no_edge_on_either_side_suggests_nothing():
    s = sizing.size(D("0.56"), yes_bid=D("0.53"), yes_ask=D("0.55"), balance=D("1000"))
    assert s.side == "" and s.contracts == 0 and s.kelly == 0 and s.edge < 0


def test_an_empty_book_or_unknown_balance_gives_no_size():
    assert sizing.size(D("0.9"), yes_bid=None, yes_ask=None, balance=D("1000")).side == ""
    s = sizing.size(D("0.9"), yes_bid=None, yes_ask=D("0.50"), balance=None)
    assert s.side == "yes" and s.stake is None and s.contracts == 0


def test_a_small_balance_buys_no_contract():
    s = sizing.size(D("0.63"), yes_bid=D("0.53"), yes_ask=D("0.55"), balance=D("1"), multiplier=D("0.1"))
    assert s.side == "yes" and s.contracts == 0


# ------------------------------------------------------------------------------------------- the endpoint


@pytest.fixture
def alice(db, client, monkeypatch):
    account = KalshiAccount.objects.create(name="acct-a", api_key_id="key-a")
    user = make_user("alice")
    TraderProfile.objects.create(user=user, account=account)
    make_market(TICKER)
    monkeypatch.setattr("trading.sizing.get_balance", lambda account, **kw: D("1000"))
    quote = {"yes_bid": "0.53", "yes_ask": "0.55", "no_bid": "0.45", "no_ask": "0.47", "ts": time.time()}
    live.client().set(live.quote_key(TICKER), json.dumps(quote))
    client.force_login(user)
    return user


def test_the_endpoint_sizes_against_the_live_quote(client, alice):
    page = client.get(f"/orders/market/{TICKER}/sizing/", {"p": "63%"}, headers={"HX-Request": "true"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Best: buy YES @ 55¢" in html and 'data-count="127"' in html and 'data-outcome="yes"' in html
    assert 'data-price-cents="55"' in html and "14.5%" in html
    assert "data-thin-book" not in html  # no size at the ask known: no warning


def test_the_endpoint_warns_when_the_best_price_has_less_than_the_size(client, alice):
    quote = {"yes_bid": "0.53", "yes_ask": "0.55", "yes_ask_size": "50", "yes_bid_size": "5000"}
    live.client().set(live.quote_key(TICKER), json.dumps(quote))
    html = client.get(f"/orders/market/{TICKER}/sizing/", {"p": "63"}).content.decode()
    assert "Only 50 at 55¢" in html
    html = client.get(f"/orders/market/{TICKER}/sizing/", {"p": "30"}).content.decode()
    assert "Best: buy NO" in html and "data-thin-book" not in html  # 5,000 at the NO ask


def test_the_endpoint_says_what_is_wrong(client, alice):
    page = client.get(f"/orders/market/{TICKER}/sizing/", {"p": "lots"}, headers={"HX-Request": "true"})
    assert "digits only" in page.content.decode() and "data-size-copy" not in page.content.decode()
    assert client.get(f"/orders/market/{TICKER}/sizing/", {"p": "101"}).status_code == 400


def test_the_kelly_fraction_is_a_setting_per_trader(client, alice):
    assert 'value="0.50"' in client.get(f"/orders/market/{TICKER}/sizing/").content.decode()
    page = client.post(f"/orders/market/{TICKER}/sizing/", {"p": "63", "kelly": "0.25", "save": "1"})
    assert "Saved: 0.25 × Kelly" in page.content.decode()
    assert SizingSetting.objects.get(user=alice).kelly_multiplier == D("0.25")
    assert 'value="0.25"' in client.get(f"/orders/market/{TICKER}/sizing/").content.decode()
    bob = make_user("bob")
    client.force_login(bob)
    assert 'value="0.50"' in client.get(f"/orders/market/{TICKER}/sizing/").content.decode()
