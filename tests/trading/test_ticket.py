"""The order ticket: validation messages next to fields, nothing created on bad input, scoping, CSRF."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal as D

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from markets import live
from tests.factories import make_market, make_user
from trading.models import KalshiAccount, Order, TraderProfile, TradingHalt

pytestmark = pytest.mark.django_db

TICKER = "KXFED-26DEC-T4.25"
GOOD = {"outcome": "yes", "action": "buy", "count": "10", "price_cents": "44", "time_in_force": "gtc"}


@pytest.fixture
def fresh_book():
    """A current book and a connected feed, as the feed would leave them in Redis."""
    book = {
        "bids": [{"price": "0.42", "size": "250", "total": "250"}],
        "asks": [{"price": "0.44", "size": "300", "total": "300"}],
        "spread": "0.02",
        "stale": False,
        "ts": time.time(),
    }
    live.client().set(f"kw:book:{TICKER}", json.dumps(book))
    live.client().set("kw:feed:health", json.dumps({"connected": True}))
    yield book
    live.client().delete(f"kw:book:{TICKER}", "kw:feed:health")


@pytest.fixture
def alice(client, monkeypatch):
    account = KalshiAccount.objects.create(name="acct-a", api_key_id="key-a")
    user = make_user("alice")
    TraderProfile.objects.create(
        user=user,
        account=account,
        max_contracts_per_order=D("100"),
        max_notional_per_order=D("50"),
        max_position_per_market=D("150"),
    )
    # The balance comes from the exchange; here it is the cached value the ticket reads.
    monkeypatch.setattr("trading.views.get_balance", lambda account, **kw: D("1000"))
    monkeypatch.setattr("trading.tasks.submit_order.delay_on_commit", lambda *a, **k: None)
    client.force_login(user)
    make_market(TICKER)
    return user


def place(client, **overrides):
    data = {**GOOD, **overrides}
    return client.post(f"/orders/market/{TICKER}/place/", data, headers={"HX-Request": "true"})


def test_a_valid_order_is_created_and_shown_at_once_as_sending(client, alice, fresh_book):
    response = place(client)
    body = response.content.decode()
    order = Order.objects.get()
    assert order.status == Order.Status.NEW and order.count == D("10") and order.yes_price == D("0.44")
    assert order.book_side == "bid" and order.user == alice
    assert f'id="order-{order.pk}"' in body and "sending…" in body
    assert 'hx-swap-oob="afterbegin:#open-orders-body"' in body


def test_a_no_buy_is_sent_as_a_yes_ask_at_one_minus_the_price(client, alice, fresh_book):
    place(client, outcome="no", price_cents="56")
    order = Order.objects.get()
    assert (order.book_side, order.yes_price, order.price) == ("ask", D("0.44"), D("0.56"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"price_cents": "44.5"}, "not on this market&#x27;s price grid"),
        ({"price_cents": "0"}, "between 0¢ and 100¢"),
        ({"price_cents": "100"}, "between 0¢ and 100¢"),
        ({"count": "0"}, "at least 0.01"),
        ({"count": "-3"}, "at least 0.01"),
        ({"count": "1.005"}, "at most 2 decimals"),
        ({"count": "abc"}, "Enter a number"),
        ({"time_in_force": "gtt"}, "need an expiry"),
        ({"time_in_force": "ioc", "post_only": "on"}, "Post-only orders must rest"),
        ({"reduce_only": "on"}, "reduce-only only with immediate-or-cancel"),
        ({"count": "101"}, "limit of 100 contracts"),
        ({"count": "99", "price_cents": "60"}, "limit of $50.00 per order"),
        ({"time_in_force": "forever"}, "Select a valid choice"),
        ({"count": "١٢"}, "digits 0-9"),  # Arabic-Indic 12: Python's Decimal reads it as 12
        ({"count": "१२"}, "digits 0-9"),  # Devanagari 12
        ({"count": "１２"}, "digits 0-9"),  # full-width 12
        ({"price_cents": "٤٤"}, "digits 0-9"),
        ({"count": "1e1"}, "digits 0-9"),
        ({"time_in_force": "gtt", "expiration": "٢٠٣٠-01-01T10:00"}, "digits 0-9"),
    ],
)
def test_it_rejects_bad_input_with_a_clear_message_and_creates_nothing(
    client, alice, fresh_book, overrides, message
):
    body = place(client, **overrides).content.decode()
    assert message in body
    assert Order.objects.count() == 0


def test_it_refuses_an_order_over_the_balance(client, alice, fresh_book, monkeypatch):
    monkeypatch.setattr("trading.views.get_balance", lambda account, **kw: D("2"))
    body = place(client, count="10", price_cents="44").content.decode()
    assert "Insufficient balance" in body and Order.objects.count() == 0


def test_the_cached_balance_read_with_the_book_refuses_an_order_over_it(
    client, alice, fresh_book, monkeypatch
):
    from trading import balance

    monkeypatch.setattr("trading.views.get_balance", balance.get_balance)  # the real one, not the fixture's
    account = TraderProfile.objects.get(user=alice).account
    balance.store_balance(account, D("2"))
    try:
        body = place(client, count="10", price_cents="44").content.decode()
        assert "Insufficient balance" in body and "$2.00" in body and Order.objects.count() == 0
        balance.store_balance(account, D("500"))
        place(client, count="10", price_cents="44")
        assert Order.objects.count() == 1
    finally:
        live.client().delete(balance.balance_key(account))


@pytest.mark.parametrize("cached", [None, [], {}, {"balance": "lots", "ts": 1}, {"balance": "5"}, "5"])
def test_an_unreadable_cached_balance_reads_as_none(cached):
    from trading.balance import parse_cached

    assert parse_cached(cached) == (None, None)


def test_a_cached_balance_that_is_not_json_reads_as_none(alice):
    from trading import balance

    account = TraderProfile.objects.get(user=alice).account
    live.client().set(balance.balance_key(account), b"\xffnot json")
    try:
        assert balance.cached_balance(account) == (None, None)
    finally:
        live.client().delete(balance.balance_key(account))


def test_it_refuses_to_trade_on_a_stale_book(client, alice, fresh_book):
    live.client().set(f"kw:book:{TICKER}", json.dumps({**fresh_book, "stale": True}))
    body = place(client).content.decode()
    assert "stale" in body and Order.objects.count() == 0


def test_it_refuses_to_trade_when_the_feed_is_down(client, alice, fresh_book):
    live.client().delete("kw:feed:health")
    body = place(client).content.decode()
    assert "feed is down" in body and Order.objects.count() == 0


def test_it_refuses_a_closed_market_saying_so_once(client, alice, fresh_book):
    from markets.models import Market

    Market.objects.filter(ticker=TICKER).update(status="closed")
    body = place(client).content.decode()
    assert body.count("This market is not open for trading.") == 1, body
    assert Order.objects.count() == 0


def test_a_stale_book_refusal_is_said_once(client, alice, fresh_book):
    live.client().set(f"kw:book:{TICKER}", json.dumps({**fresh_book, "stale": True}))
    body = place(client).content.decode()
    assert body.count("The order book is stale") == 1, body
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("ranges", "cents", "steps"),
    [
        ([{"start": "0.0000", "end": "1.0000", "step": "0.0100"}], "44.5", "steps of 1¢"),
        (
            [
                {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
                {"start": "0.1000", "end": "1.0000", "step": "0.0100"},
            ],
            "44.5",
            "steps of 0.1¢, 1¢",
        ),
        ([{"start": "0.0000", "end": "1.0000", "step": "0.0010"}], "44.25", "steps of 0.1¢"),
    ],
)
def test_an_off_grid_limit_names_the_steps_in_cents(client, alice, fresh_book, ranges, cents, steps):
    from markets.models import Market

    Market.objects.filter(ticker=TICKER).update(price_ranges=ranges)
    body = place(client, price_cents=cents).content.decode()
    assert f"{cents}¢ is not on this market&#x27;s price grid ({steps})." in body, body
    assert "$0.0" not in body and Order.objects.count() == 0


def test_a_halted_trader_cannot_place(client, alice, fresh_book):
    TraderProfile.objects.filter(user=alice).update(halted=True, halted_reason="kill switch")
    assert "Your trading is halted" in place(client).content.decode()
    assert Order.objects.count() == 0


def test_a_global_halt_stops_everyone(client, alice, fresh_book):
    TradingHalt.objects.update_or_create(pk=1, defaults={"halted": True, "reason": "exchange incident"})
    assert "exchange incident" in place(client).content.decode()
    assert Order.objects.count() == 0


def test_a_viewer_sees_market_data_but_cannot_trade(client, fresh_book):
    make_market(TICKER)
    client.force_login(make_user("victor"))
    assert client.get(f"/markets/{TICKER}/").status_code == 200
    body = place(client).content.decode()
    assert "view-only" in body and Order.objects.count() == 0


def test_the_preview_says_whether_the_order_crosses_and_what_it_costs(client, alice, fresh_book):
    TraderProfile.objects.filter(user=alice).update(
        max_contracts_per_order=None, max_notional_per_order=None, max_position_per_market=None
    )
    body = client.post(
        f"/orders/market/{TICKER}/preview/", {**GOOD, "count": "400", "price_cents": "44"}
    ).content.decode()
    assert "fills part, rests the rest" in body and "fills 300 @ 44¢" in body
    assert "Balance after" in body
    body = client.post(f"/orders/market/{TICKER}/preview/", {**GOOD, "price_cents": "40"}).content.decode()
    assert "Rests on the book" in body


def test_a_trader_cannot_cancel_or_see_another_traders_order(client, alice, fresh_book):
    bob = make_user("bob")
    account = KalshiAccount.objects.create(name="acct-b", api_key_id="key-b")
    theirs = Order.objects.create(
        user=bob,
        account=account,
        ticker=TICKER,
        outcome="yes",
        action="buy",
        price=D("0.4"),
        book_side="bid",
        yes_price=D("0.4"),
        count=D("1"),
        remaining_count=D("1"),
        status="resting",
    )
    assert client.post(f"/orders/{theirs.pk}/cancel/").status_code == 404
    assert f"order-{theirs.pk}" not in client.get("/orders/").content.decode()
    assert f"order-{theirs.pk}" not in client.get(f"/orders/market/{TICKER}/orders/").content.decode()
    theirs.refresh_from_db()
    assert not theirs.cancel_requested


def test_placing_an_order_requires_the_csrf_token(alice, fresh_book):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(alice)
    response = csrf_client.post(f"/orders/market/{TICKER}/place/", GOOD)
    assert response.status_code == 403
    assert Order.objects.count() == 0


def test_the_kill_switch_halts_the_trader_and_cancels_only_her_orders(client, alice, monkeypatch):
    """Fast check of the view's dispatch; tests/trading/test_cancel.py runs it against the simulator."""
    sent, account_wide = [], []
    monkeypatch.setattr("trading.tasks.cancel_trader_orders.delay_on_commit", lambda *a: sent.append(a))
    monkeypatch.setattr(
        "trading.tasks.cancel_all_for_account.delay_on_commit", lambda *a: account_wide.append(a)
    )
    account = TraderProfile.objects.get(user=alice).account
    fields = {"account": account, "ticker": TICKER, "outcome": "yes", "action": "buy", "price": D("0.4")}
    fields |= {"book_side": "bid", "yes_price": D("0.4"), "count": D("1"), "remaining_count": D("1")}
    unsent = Order.objects.create(user=alice, **fields)
    resting = Order.objects.create(user=alice, status="resting", exchange_order_id="x-1", **fields)
    theirs = Order.objects.create(user=make_user("bob"), status="resting", exchange_order_id="x-2", **fields)
    client.post("/orders/kill-switch/", {"confirm": "yes"})
    assert TraderProfile.objects.get(user=alice).halted
    assert Order.objects.get(pk=unsent.pk).status == Order.Status.CANCELED
    assert sent == [([resting.pk], "alice")] and account_wide == []
    assert Order.objects.get(pk=resting.pk).cancel_requested
    assert not Order.objects.get(pk=theirs.pk).cancel_requested


def test_the_kill_switch_needs_confirmation(client, alice):
    response = client.post("/orders/kill-switch/", {})
    assert response.status_code == 400
    assert not TraderProfile.objects.get(user=alice).halted
    # the page that says so is the whole Orders page, not an empty shell
    assert b"Tick the confirmation" in response.content and b'id="orders-panel"' in response.content


def test_a_halted_trader_is_offered_cancel_all_not_halt_again_and_keeps_the_admins_reason(client, alice):
    profile = TraderProfile.objects.get(user=alice)
    page = client.get("/orders/").content.decode()
    assert "Cancel all &amp; halt" in page
    profile.halted, profile.halted_reason = True, "risk desk: limit breach"
    profile.save()
    page = client.get("/orders/").content.decode()
    assert "Cancel all &amp; halt" not in page and 'class="kill-switch"' not in page  # nothing open to cancel
    fields = {
        "account": profile.account,
        "ticker": TICKER,
        "outcome": "yes",
        "action": "buy",
        "price": D("0.4"),
    }
    fields |= {"book_side": "bid", "yes_price": D("0.4"), "count": D("1"), "remaining_count": D("1")}
    Order.objects.create(user=alice, **fields)
    page = client.get("/orders/").content.decode()
    assert "Cancel my 1 open order too" in page and "Cancel all &amp; halt" not in page
    client.post("/orders/kill-switch/", {"confirm": "yes"})
    assert TraderProfile.objects.get(user=alice).halted_reason == "risk desk: limit breach"


def test_the_staff_halt_sits_apart_from_the_traders_own_kill_switch(client, alice):
    page = client.get("/orders/").content.decode()
    assert "Halt trading for everyone" not in page
    alice.is_staff = True
    alice.save()
    page = client.get("/orders/").content.decode()
    staff = page.index('class="staff-zone"')
    assert page.index('class="kill-switch"') < page.index('id="orders-panel"') < staff
    assert page.index("Halt trading for everyone") > staff


text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", "0", "-1", "1e9", "NaN", "inf", "0.001", "99.999", "1,000", "१२", "١٢", "１２", "4"]
    ),
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    count=text,
    price=text,
    tif=st.sampled_from(["gtc", "gtt", "ioc", "fok", "x", ""]),
    outcome=st.sampled_from(["yes", "no", "maybe"]),
)
def test_random_bad_input_never_creates_an_order_and_always_explains(
    client, alice, fresh_book, count, price, tif, outcome
):
    before = Order.objects.count()
    response = place(client, count=count, price_cents=price, time_in_force=tif, outcome=outcome)
    assert response.status_code == 200
    created = Order.objects.count() - before
    body = response.content.decode()
    if created:
        order = Order.objects.latest("pk")
        assert order.count > 0 and 0 < order.price < 1  # only a genuinely valid order gets through
        assert count.isascii() and price.isascii()  # typed in ASCII digits
    else:
        assert "field-error" in body or "form-errors" in body or "blocker" in body


def test_a_row_still_being_sent_rereads_itself_and_stops_once_settled(client, alice):
    account = KalshiAccount.objects.get(name="acct-a")
    order = Order.objects.create(
        user=alice,
        account=account,
        ticker=TICKER,
        outcome="yes",
        action="buy",
        price=D("0.4"),
        book_side="bid",
        yes_price=D("0.4"),
        count=D("1"),
        remaining_count=D("1"),
    )
    body = client.get(f"/orders/{order.pk}/row/").content.decode()
    assert "sending…" in body and 'hx-trigger="every 2s"' in body
    Order.objects.filter(pk=order.pk).update(status="resting")
    body = client.get(f"/orders/{order.pk}/row/").content.decode()
    assert "resting" in body and "hx-trigger" not in body
    bob = make_user("bob")
    client.force_login(bob)
    assert client.get(f"/orders/{order.pk}/row/").status_code == 404


def test_placing_a_plain_order_reads_the_position_only_after_its_commit(client, alice, fresh_book):
    """The position is needed before the commit only for reduce-only and a position limit."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    TraderProfile.objects.filter(user=alice).update(max_position_per_market=None)
    with CaptureQueriesContext(connection) as queries:
        response = place(client)
    assert response.status_code == 200 and Order.objects.count() == 1
    sql = [q["sql"] for q in queries.captured_queries]
    insert = next(i for i, q in enumerate(sql) if q.startswith('INSERT INTO "trading_order"'))
    position_reads = [i for i, q in enumerate(sql) if 'FROM "trading_fill"' in q]
    assert position_reads and all(i > insert for i in position_reads), sql  # still shown on the ticket
    assert sum('FROM "trading_tradinghalt"' in q for q in sql) == 1, sql  # the halt is read once
    assert sum('FROM "markets_market"' in q for q in sql) == 1, sql  # no deferred market field is loaded


@pytest.mark.parametrize("halt_row", [True, False])
def test_placing_a_plain_order_runs_two_statements_before_its_insert(
    client, alice, fresh_book, django_assert_max_num_queries, halt_row
):
    """Before the order's INSERT: the user with its trader profile, account and the global halt (one statement)
    and the market; the session comes from Redis. After the commit only the position, for the fresh ticket."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    TraderProfile.objects.filter(user=alice).update(max_position_per_market=None)
    if halt_row:
        TradingHalt.objects.create(pk=1, halted=False, reason="lifted")
    # user, market, savepoint, order, "created" event, release, position (display)
    with django_assert_max_num_queries(7), CaptureQueriesContext(connection) as queries:
        response = place(client)
    assert response.status_code == 200 and Order.objects.count() == 1
    sql = [q["sql"] for q in queries.captured_queries]
    insert = next(i for i, q in enumerate(sql) if q.startswith('INSERT INTO "trading_order"'))
    before = [q.split(" FROM ")[-1].split()[0] for q in sql[:insert] if q.startswith("SELECT")]
    assert before == ['"auth_user"', '"markets_market"'], sql
    for table in ("traderprofile", "kalshiaccount", "tradinghalt"):
        assert f'"trading_{table}"' in sql[0], sql[0]
    assert not any("django_session" in q for q in sql), sql


def test_a_halt_set_after_the_trader_logged_in_stops_the_next_order(client, alice, fresh_book):
    place(client)
    TradingHalt.objects.update_or_create(pk=1, defaults={"halted": True, "reason": "fat finger"})
    assert "fat finger" in place(client).content.decode()
    TradingHalt.objects.filter(pk=1).update(halted=False)
    place(client)
    assert Order.objects.count() == 2


def test_the_placed_response_has_the_fresh_ticket_and_the_new_row(client, alice, fresh_book):
    body = place(client, count="3").content.decode()
    order = Order.objects.get()
    assert body.index('id="ticket"') < body.index(f'id="order-{order.pk}"')
    assert "Order sent: buy 3 YES" in body and "Position 0" in body and "Balance $1,000.00" in body


def test_a_viewer_gets_no_trader_profile_without_a_query(django_assert_num_queries):
    from django.contrib.auth import get_user_model

    from trading.auth import TraderBackend
    from trading.services import trader_profile

    victor = TraderBackend().get_user(make_user("victor").pk)
    assert victor is not None and victor.username == "victor"
    with django_assert_num_queries(0):
        assert trader_profile(victor) is None
    plain = get_user_model().objects.get(username="victor")  # loaded without the join: one query
    with django_assert_num_queries(1):
        assert trader_profile(plain) is None


def test_the_top_bar_shows_the_cached_balance(client, alice):
    from trading.balance import store_balance

    store_balance(TraderProfile.objects.get(user=alice).account, D("1234.5"))
    body = client.get(f"/markets/{TICKER}/").content.decode()
    assert 'class="topbar-balance"' in body and "$1,234.50" in body


def test_a_position_limit_still_reads_the_position_before_placing(client, alice, fresh_book):
    from trading.models import Fill

    Fill.objects.create(
        fill_id="f1",
        account=TraderProfile.objects.get(user=alice).account,
        user=alice,  # her own position counts toward her limit (not another trader's on the same account)
        exchange_order_id="x1",
        ticker=TICKER,
        outcome_side="yes",
        book_side="bid",
        yes_price=D("0.40"),
        count=D("145"),
        created_time=timezone.now(),
    )
    body = place(client, count="10").content.decode()
    assert "over your limit of 150" in body and not Order.objects.exists()


def ticket_token(body: str) -> str:
    match = re.search(r'name="client_order_id" value="([0-9a-f-]{36})"', body)
    assert match, body
    return match.group(1)


def test_the_same_ticket_posted_twice_places_one_order_and_the_next_ticket_has_a_new_token(
    client, alice, fresh_book
):
    token = ticket_token(client.get(f"/orders/market/{TICKER}/ticket/").content.decode())
    first = place(client, client_order_id=token).content.decode()
    second = place(client, client_order_id=token).content.decode()
    order = Order.objects.get()
    assert str(order.client_order_id) == token and order.events.filter(kind="created").count() == 1
    # The second answer shows that same order, replacing its row rather than adding it again.
    assert "Order sent: buy 10 YES" in second and second.count(f'id="order-{order.pk}"') == 1
    assert "afterbegin:#open-orders-body" in first and "afterbegin:#open-orders-body" not in second
    fresh = ticket_token(first)
    assert fresh != token and ticket_token(second) not in (token, fresh)
    # A refused ticket keeps its token: nothing was placed with it.
    assert ticket_token(place(client, client_order_id=fresh, count="abc").content.decode()) == fresh
    place(client, client_order_id=fresh)
    assert Order.objects.count() == 2


def test_another_traders_ticket_token_places_nothing_and_shows_nothing_of_theirs(client, alice, fresh_book):
    token = ticket_token(client.get(f"/orders/market/{TICKER}/ticket/").content.decode())
    place(client, client_order_id=token)
    mallory = make_user("mallory")
    TraderProfile.objects.create(user=mallory, account=KalshiAccount.objects.create(name="m", api_key_id="m"))
    client.force_login(mallory)
    body = place(client, client_order_id=token).content.decode()
    assert "reload the page" in body and "Order sent" not in body
    assert Order.objects.count() == 1 and not Order.objects.filter(user=mallory).exists()
