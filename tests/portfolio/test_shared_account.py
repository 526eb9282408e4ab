"""Two traders on one Kalshi account: each sees only their own fills, positions and P&L; staff can ask for the
account-wide view (every fill, also those of orders placed outside kalshiweb), labelled so."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from portfolio import services
from tests.helpers import open_page
from tests.portfolio.helpers import add_trader, make_fill, make_trader

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared():
    alice, account = make_trader("alice")
    bob = add_trader("bob", account)
    make_fill(account, "KX-FED-A", "bid", "0.40", "10", "0.17", at=datetime(2026, 11, 1, 12, tzinfo=UTC))
    make_fill(
        account, "KX-FED-A", "bid", "0.41", "77", "0.50", at=datetime(2026, 11, 2, 12, tzinfo=UTC), user=bob
    )
    make_fill(account, "KX-CPI-B", "ask", "0.30", "33", at=datetime(2026, 11, 3, 12, tzinfo=UTC), user=bob)
    # Placed on kalshi.com, not through kalshiweb: belongs to no trader.
    make_fill(account, "KX-GDP-C", "bid", "0.20", "55", at=datetime(2026, 11, 4, 12, tzinfo=UTC), user=None)
    return alice, bob, account


def csv_tickers(response) -> list[tuple[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return [(r["ticker"], r["contracts"]) for r in csv.DictReader(io.StringIO(body))]


def contracts(html: str, ticker: str) -> str:
    row = html.split(f'id="pf-row-{ticker}"')[1].split("</tr>")[0]
    return row.split('class="num pf-contracts">')[1].split("<")[0]


def test_the_portfolio_page_shows_only_my_positions(client, shared):
    alice, _, _ = shared
    client.force_login(alice)
    html = client.get("/portfolio/").content.decode()
    assert 'id="pf-row-KX-FED-A"' in html
    assert "KX-CPI-B" not in html and "KX-GDP-C" not in html
    assert contracts(html, "KX-FED-A") == "10"  # alice's 10, not the account's 10 + 77
    assert 'id="pf-fees">$0.17<' in html  # her fee only
    assert "Account balance" in html


def test_the_other_trader_sees_only_theirs(client, shared):
    _, bob, account = shared
    client.force_login(bob)
    html = client.get("/portfolio/live/").content.decode()
    assert "KX-CPI-B" in html and "KX-GDP-C" not in html
    assert contracts(html, "KX-FED-A") == "77"
    view = services.build_view(account, bob)
    assert view.fees == D("0.50") and {r.ticker for r in view.rows} == {"KX-FED-A", "KX-CPI-B"}


def test_fill_history_and_csv_are_mine_only(client, shared):
    alice, _, _ = shared
    client.force_login(alice)
    html = client.get("/portfolio/fills/").content.decode()
    assert "1 fill" in html and "KX-CPI-B" not in html and "KX-GDP-C" not in html
    assert csv_tickers(client.get("/portfolio/fills.csv")) == [("KX-FED-A", "10.00")]


def test_a_non_staff_trader_cannot_ask_for_the_account_wide_view(client, shared):
    alice, _, _ = shared
    client.force_login(alice)
    assert "KX-GDP-C" not in client.get("/portfolio/", {"scope": "account"}).content.decode()
    assert "KX-GDP-C" not in client.get("/portfolio/fills/", {"scope": "account"}).content.decode()
    assert csv_tickers(client.get("/portfolio/fills.csv", {"scope": "account"})) == [("KX-FED-A", "10.00")]


def test_staff_see_the_whole_account_labelled_as_such(client, shared):
    alice, _, _ = shared
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    mine = client.get("/portfolio/").content.decode()
    assert "KX-GDP-C" not in mine and "whole account (staff)" in mine
    html = client.get("/portfolio/", {"scope": "account"}).content.decode()
    assert "Account-wide (staff)" in html
    assert "KX-CPI-B" in html and "KX-GDP-C" in html
    assert contracts(html, "KX-FED-A") == "87"
    assert "/portfolio/live/?scope=account" in html
    live = client.get("/portfolio/live/", {"scope": "account"}).content.decode()
    assert "KX-GDP-C" in live
    fills = client.get("/portfolio/fills/", {"scope": "account"}).content.decode()
    assert "4 fills" in fills and "Account-wide (staff)" in fills
    assert len(csv_tickers(client.get("/portfolio/fills.csv", {"scope": "account"}))) == 4


def test_a_settlement_closes_each_trader_s_own_position(shared):
    from portfolio.models import Settlement

    alice, bob, account = shared
    Settlement.objects.create(
        account=account, ticker="KX-FED-A", event_ticker="KX-FED", market_result="yes",
        yes_count=D("87"), yes_total_cost=D("35.57"), no_count=0, no_total_cost=0, revenue=D("87"), settled_time=datetime(2026, 11, 5, tzinfo=UTC),
    )  # fmt: skip
    assert services.ledger_for(account, alice).market("KX-FED-A").realized == D("6.00")  # 10 × (1 − 0.40)
    assert services.ledger_for(account, bob).market("KX-FED-A").realized == D("45.43")  # 77 × (1 − 0.41)
    assert "KX-FED-A" not in {p.ticker for p in services.ledger_for(account, alice).open_positions()}


def test_each_trader_is_pushed_their_own_figures(shared, django_capture_on_commit_callbacks, monkeypatch):
    alice, bob, account = shared
    sent: dict[int, str] = {}

    def notify(uid, html, views=()):
        if views == ("portfolio",):
            sent[uid] = html

    monkeypatch.setattr("portfolio.services.notify_user", notify)
    open_page(alice.pk)
    open_page(bob.pk)
    services.push(account)
    assert "KX-CPI-B" not in sent[alice.pk] and "KX-CPI-B" in sent[bob.pk]
    assert "KX-GDP-C" not in sent[alice.pk] + sent[bob.pk]


def test_the_ticket_and_its_holdings_line_show_my_position_not_the_accounts(client, shared):
    """The ticket's "Position" (and its reduce-only and position-limit checks) are the trader's own."""
    from markets.models import Market
    from tests.factories import make_market

    alice, bob, _ = shared
    if not Market.objects.filter(ticker="KX-FED-A").exists():
        make_market("KX-FED-A")
    client.force_login(alice)
    assert "Position 10" in client.get("/portfolio/holdings/KX-FED-A/").content.decode()
    assert "Position 10" in client.get("/orders/market/KX-FED-A/ticket/").content.decode()
    client.force_login(bob)
    assert "Position 77" in client.get("/portfolio/holdings/KX-FED-A/").content.decode()
    # Bob holds none of CPI-B's YES... but 33 NO: he may reduce that, Alice may not.
    from trading.services import position

    assert position(bob.trader.account, "KX-CPI-B", bob) == D("-33")
    assert position(alice.trader.account, "KX-CPI-B", alice) == D("0")
