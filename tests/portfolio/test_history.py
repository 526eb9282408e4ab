"""Fill and settlement history: filters, CSV export, and only the trader's own account."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from portfolio import services
from portfolio.models import Settlement
from tests.portfolio.helpers import make_fill, make_trader

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    user, account = make_trader("alice")
    client.force_login(user)
    make_fill(account, "KX-FED-A", "bid", "0.40", "10", "0.17", at=datetime(2026, 11, 1, 12, tzinfo=UTC))
    make_fill(account, "KX-FED-A", "ask", "0.55", "4", "0.07", at=datetime(2026, 11, 2, 12, tzinfo=UTC))
    make_fill(account, "KX-CPI-B", "ask", "0.30", "2.5", "0.04", at=datetime(2026, 11, 3, 12, tzinfo=UTC))
    _, other = make_trader("bob")
    make_fill(other, "KX-FED-A", "bid", "0.41", "99", at=datetime(2026, 11, 2, 12, tzinfo=UTC))
    return account


def csv_rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_fill_history_lists_only_my_fills(client, alice):
    html = client.get("/portfolio/fills/").content.decode()
    assert "3 fills" in html
    assert "99" not in html.split("<tbody>")[1]


def test_it_filters_fills_by_ticker_and_date(client, alice):
    html = client.get("/portfolio/fills/", {"ticker": "FED", "since": "2026-11-02"}).content.decode()
    assert "1 fill" in html and "KX-CPI-B" not in html.split("<tbody>")[1]


def test_the_filter_returns_only_the_table_to_htmx(client, alice):
    response = client.get("/portfolio/fills/", {"ticker": "CPI"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.startswith('<section id="fill-table">') and "<html" not in html


def test_the_csv_export_follows_the_filters(client, alice):
    response = client.get("/portfolio/fills.csv", {"until": "2026-11-02"})
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert [(r["ticker"], r["side"], r["contracts"], r["price"], r["fee"]) for r in rows] == [
        ("KX-FED-A", "no", "4.00", "0.4500", "0.070000"),  # selling YES at 55¢ is buying NO at 45¢
        ("KX-FED-A", "yes", "10.00", "0.4000", "0.170000"),
    ]


def test_the_csv_export_of_all_fills_has_every_fill(client, alice):
    rows = csv_rows(client.get("/portfolio/fills.csv"))
    assert len(rows) == 3 and rows[0]["contracts"] == "2.50"


def test_settlements_are_listed_with_their_profit(client, alice):
    Settlement.objects.create(
        account=alice, ticker="KX-OLD", event_ticker="KX", market_result="no", yes_count=0, yes_total_cost=0,
        no_count=D(6), no_total_cost=D("4.20"), revenue=D("6.00"), fee_cost=D("0.63"),
        settled_time=datetime(2026, 11, 5, tzinfo=UTC),
    )  # fmt: skip
    html = client.get("/portfolio/settlements/").content.decode()
    assert "KX-OLD" in html and "+$1.80" in html
    assert "KX-OLD" in client.get("/portfolio/").content.decode()


def test_a_scalar_settlement_is_replayed_at_its_value_and_listed_with_it(client, alice):
    # alice holds 6 YES of KX-FED-A (10 bought at 0.40, 4 sold at 0.55): settled at 37¢ a YES contract.
    Settlement.objects.create(
        account=alice, ticker="KX-FED-A", event_ticker="KX", market_result="scalar", yes_count=D(6),
        yes_total_cost=D("2.40"), no_count=0, no_total_cost=0, revenue=D("2.22"), value_cents=37,
        settled_time=datetime(2026, 11, 6, tzinfo=UTC),
    )  # fmt: skip
    market = services.ledger_for(alice).market("KX-FED-A")
    assert (market.position, market.settled) == (0, "scalar")
    assert market.realized == D("0.60") + 6 * (D("0.37") - D("0.40"))  # the sale, then the settlement
    assert "SCALAR @ 37¢" in client.get("/portfolio/settlements/").content.decode()


def test_a_scalar_settlement_without_a_value_leaves_the_position_open(alice):
    Settlement.objects.create(
        account=alice, ticker="KX-FED-A", event_ticker="KX", market_result="scalar", yes_count=D(6),
        yes_total_cost=D("2.40"), no_count=0, no_total_cost=0, revenue=D("2.22"), value_cents=None,
        settled_time=datetime(2026, 11, 6, tzinfo=UTC),
    )  # fmt: skip
    assert services.ledger_for(alice).market("KX-FED-A").position == 6


@pytest.mark.parametrize(("params", "count"), [({"until": "9999-12-31"}, 3), ({"since": "9999-12-31"}, 0),
                                               ({"until": "0001-01-01"}, 0), ({"since": "0001-01-01"}, 3)])  # fmt: skip
def test_the_last_and_first_representable_dates_are_not_a_server_error(client, alice, params, count):
    """Issue #12 item 10: ?until=9999-12-31 was a 500 (OverflowError adding a day)."""
    response = client.get("/portfolio/fills/", params)
    assert response.status_code == 200
    assert f"· {count} fill" in response.content.decode()
    response = client.get("/portfolio/fills.csv", params)
    assert response.status_code == 200 and len(csv_rows(response)) == count


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "99999-01-01", "2026-11-01T25:00"])
def test_a_bad_date_is_a_message_on_the_page_and_a_400_for_the_csv(client, alice, bad):
    html = client.get("/portfolio/fills/", {"since": bad}).content.decode()
    assert "is not a date" in html and "3 fills" in html  # said, and the rest of the page still works
    htmx = client.get("/portfolio/fills/", {"until": bad}, headers={"HX-Request": "true"}).content.decode()
    assert "is not a date" in htmx  # the message is in the table the filter form swaps in
    response = client.get("/portfolio/fills.csv", {"until": bad})
    assert response.status_code == 400 and "is not a date" in response.content.decode()
