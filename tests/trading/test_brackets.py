"""Brackets' state machine (trading.brackets), its runner pass and its views, on the database without an exchange.

The exits go through the ticket's path (services.place_order); Celery is not started here (the submissions
queued on commit are not sent). tests/trading/test_brackets_browser.py runs the whole path on the simulator."""

from __future__ import annotations

import json
import time
from decimal import Decimal as D

import pytest
from django.utils import timezone

from markets import live
from tests.factories import make_market, make_user
from trading import brackets, brackets_runner
from trading.brackets_models import Bracket
from trading.models import Fill, KalshiAccount, Order, OrderEvent, TraderProfile, TradingHalt

pytestmark = pytest.mark.django_db

TICKER = "KXFED-26DEC-T4.25"


@pytest.fixture(autouse=True)
def no_celery(monkeypatch):
    monkeypatch.setattr("trading.tasks.submit_order.delay_on_commit", lambda *a, **k: None)
    monkeypatch.setattr("trading.tasks.cancel_order.delay_on_commit", lambda *a, **k: None)


@pytest.fixture
def alice():
    account = KalshiAccount.objects.create(name="acct-a", api_key_id="key-a")
    user = make_user("alice")
    TraderProfile.objects.create(user=user, account=account)
    make_market(TICKER)
    return user


def entry_order(user, *, outcome="yes", action="buy", price="0.40", count="3", status=Order.Status.RESTING):
    return Order.objects.create(
        user=user,
        account=user.trader.account,
        ticker=TICKER,
        outcome=outcome,
        action=action,
        price=D(price),
        book_side="bid" if (outcome == "yes") == (action == "buy") else "ask",
        yes_price=D(price) if outcome == "yes" else 1 - D(price),
        count=D(count),
        remaining_count=D(count),
        status=status,
        exchange_order_id=f"ex-{Order.objects.count() + 1}",
    )


def fill_entry(order, count):
    """The entry fills `count` (a stored fill, so the trader's position is known) and ends."""
    Fill.objects.create(
        fill_id=f"f-{order.pk}-{count}",
        account=order.account,
        order=order,
        user=order.user,
        exchange_order_id=order.exchange_order_id,
        ticker=order.ticker,
        outcome_side=order.outcome,
        book_side=order.book_side,
        yes_price=order.yes_price,
        count=D(count),
        created_time=timezone.now(),
    )
    status = Order.Status.EXECUTED if D(count) == order.count else Order.Status.CANCELED
    Order.objects.filter(pk=order.pk).update(status=status, fill_count=D(count), remaining_count=0)


def bracket_for(user, **kw):
    entry = entry_order(user)
    b = brackets.attach(
        user,
        entry,
        take_profit=kw.get("tp", D("0.60")),
        stop=kw.get("stop", D("0.30")),
        trigger=kw.get("trigger", "quote"),
    )
    return entry, b


def active(user, **kw):
    entry, b = bracket_for(user, **kw)
    fill_entry(entry, "3")
    assert brackets.advance(b, None) == "activated"
    b.refresh_from_db()
    return b


QUOTE = {"yes_bid": "0.35", "yes_ask": "0.37", "no_bid": "0.63", "no_ask": "0.65", "last_price": "0.36"}


# ------------------------------------------------------------------------------------------- prices


@pytest.mark.parametrize(
    ("action", "entry", "tp", "stop", "limit", "message"),
    [
        ("buy", "0.40", "0.40", None, None, "take-profit must be above"),
        ("buy", "0.40", None, "0.45", None, "stop must be below"),
        ("sell", "0.40", "0.45", None, None, "take-profit must be below"),
        ("sell", "0.40", None, "0.35", None, "stop must be above"),
        ("buy", "0.40", None, "0.30", "0.31", "stop's limit must be at or below"),
        ("buy", "0.40", None, None, None, "Give a take-profit, a stop, or both"),
    ],
)
def test_exits_on_the_wrong_side_of_the_entry_are_refused(action, entry, tp, stop, limit, message):
    with pytest.raises(brackets.BracketRefused, match=message):
        brackets.check_prices(action, D(entry), tp and D(tp), stop and D(stop), limit and D(limit))


def test_good_exits_pass():
    brackets.check_prices("buy", D("0.40"), D("0.60"), D("0.30"), D("0.25"))
    brackets.check_prices("sell", D("0.40"), D("0.20"), D("0.50"), D("0.55"))


def test_the_stop_watches_its_own_leg(alice):
    _, b = bracket_for(alice)
    assert brackets.reference_price(b, QUOTE) == D("0.35")  # a long YES sells at the YES bid
    b.outcome = "no"
    assert brackets.reference_price(b, QUOTE) == D("0.63")
    b.trigger = "last"
    assert brackets.reference_price(b, QUOTE) == D("0.64")  # NO's last is 1 − YES's last
    b.outcome, b.entry_action, b.trigger = "yes", "sell", "quote"
    assert brackets.reference_price(b, QUOTE) == D("0.37")  # a short YES buys back at the YES ask
    assert brackets.reference_price(b, {"yes_ask": None}) is None


def test_crossing_is_at_or_through_the_stop(alice):
    _, b = bracket_for(alice)
    assert not brackets.stop_crossed(b, D("0.31"))
    assert brackets.stop_crossed(b, D("0.30"))
    assert not brackets.stop_crossed(b, None)
    b.entry_action = "sell"
    b.stop_price = D("0.50")
    assert brackets.stop_crossed(b, D("0.50")) and not brackets.stop_crossed(b, D("0.49"))


# ------------------------------------------------------------------------------------------- the entry


def test_exits_start_only_when_the_entry_has_filled(alice):
    entry, b = bracket_for(alice)
    assert b.status == Bracket.Status.PENDING
    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.10"}) == ""  # a pending stop is not armed yet
    assert b.take_profit_order_id is None and not Order.objects.filter(reduce_only=True).exists()

    fill_entry(entry, "3")
    assert brackets.advance(b, None) == "activated"
    b.refresh_from_db()
    assert b.status == Bracket.Status.ACTIVE and b.count == 3, b.note
    tp = b.take_profit_order
    assert tp is not None, b.note
    assert (tp.action, tp.outcome, tp.count, tp.price, tp.time_in_force) == (
        "sell",
        "yes",
        3,
        D("0.60"),
        "gtc",
    )
    assert tp.client_order_id == b.take_profit_token and tp.user_id == alice.pk
    assert OrderEvent.objects.filter(order=tp, kind="created").count() == 1  # the ticket's path: audited
    assert brackets.advance(b, None) == ""  # once
    assert brackets.activate(Bracket.objects.get(pk=b.pk), D(3)) == ""
    assert Order.objects.filter(action="sell").count() == 1


def test_a_partly_filled_entry_protects_what_filled(alice):
    entry, b = bracket_for(alice)
    Order.objects.filter(pk=entry.pk).update(fill_count=D(1))  # still resting: wait
    assert brackets.advance(b, None) == ""
    fill_entry(entry, "2")  # then canceled with 2 filled
    assert brackets.advance(b, None) == "activated"
    b.refresh_from_db()
    assert b.count == 2 and b.take_profit_order.count == 2


def test_an_entry_that_ends_unfilled_cancels_the_bracket(alice):
    entry, b = bracket_for(alice)
    Order.objects.filter(pk=entry.pk).update(status=Order.Status.CANCELED, remaining_count=0)
    assert brackets.advance(b, None) == "canceled"
    b.refresh_from_db()
    assert b.status == Bracket.Status.CANCELED and not Order.objects.filter(action="sell").exists()


# ------------------------------------------------------------------------------------------- the stop


def test_the_stop_fires_once_with_a_reduce_only_ioc_and_cancels_the_take_profit(alice):
    b = active(alice)
    tp = b.take_profit_order
    Order.objects.filter(pk=tp.pk).update(status=Order.Status.RESTING, exchange_order_id="ex-tp")
    stale_copy = Bracket.objects.get(pk=b.pk)  # what a second feed process read before the first fired

    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.31"}) == ""  # above the stop
    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.30"}) == "fired"
    b.refresh_from_db()
    stop = b.stop_order
    assert b.status == Bracket.Status.TRIGGERED and b.trigger_seen == D("0.30")
    assert (stop.action, stop.outcome, stop.count, stop.price) == ("sell", "yes", 3, D("0.01"))
    assert stop.reduce_only and stop.time_in_force == "ioc" and stop.client_order_id == b.stop_token
    assert OrderEvent.objects.filter(order=stop, kind="stop_triggered").count() == 1
    tp.refresh_from_db()
    assert tp.cancel_requested  # the other exit is being canceled

    # The second process, the same pass delivered again, a later tick: nothing more.
    assert brackets.fire(stale_copy, D("0.29"), tp) == ""
    assert brackets.advance(stale_copy, {**QUOTE, "yes_bid": "0.20"}) == ""
    assert Order.objects.filter(reduce_only=True).count() == 1


def test_the_stop_closes_only_what_the_take_profit_has_not(alice):
    b = active(alice)
    Order.objects.filter(pk=b.take_profit_order_id).update(
        status=Order.Status.RESTING, exchange_order_id="ex-tp", fill_count=D(1)
    )
    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.20"}) == "fired"
    b.refresh_from_db()
    assert b.stop_order.count == 2


def test_the_stop_never_fires_on_a_stale_feed(alice):
    b = active(alice)
    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.10"}, live=False) == ""
    assert Bracket.objects.get(pk=b.pk).status == Bracket.Status.ACTIVE


def test_the_last_trade_trigger(alice):
    b = active(alice, trigger="last")
    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.10", "last_price": "0.31"}) == ""
    assert brackets.advance(b, {**QUOTE, "last_price": "0.30"}) == "fired"


def test_a_filled_take_profit_disarms_the_stop(alice):
    b = active(alice)
    Order.objects.filter(pk=b.take_profit_order_id).update(status=Order.Status.EXECUTED, fill_count=3)
    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.10"}) == "take-profit filled"
    b.refresh_from_db()
    assert b.status == Bracket.Status.DONE
    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.10"}) == ""
    assert not Order.objects.filter(reduce_only=True).exists()


def test_the_bracket_is_done_when_the_stop_order_is(alice):
    b = active(alice)
    brackets.advance(b, {**QUOTE, "yes_bid": "0.20"})
    b.refresh_from_db()
    assert brackets.advance(b, None) == ""  # the stop order is still being sent
    Order.objects.filter(pk=b.stop_order_id).update(status=Order.Status.EXECUTED, fill_count=3)
    assert brackets.advance(b, None) == "stop done"
    b.refresh_from_db()
    assert b.status == Bracket.Status.DONE and "3 of 3 filled" in b.note


def test_a_stop_that_fills_short_says_what_is_still_open(alice):
    b = active(alice)
    brackets.advance(b, {**QUOTE, "yes_bid": "0.20"})
    b.refresh_from_db()
    Order.objects.filter(pk=b.stop_order_id).update(status=Order.Status.CANCELED, fill_count=1)
    assert brackets.advance(b, None) == "stop done"
    assert "1 of 3 filled. 2 still open" in Bracket.objects.get(pk=b.pk).note


def test_a_halt_refuses_the_stop_order_once_and_says_why(alice):
    b = active(alice)
    TradingHalt.objects.update_or_create(pk=1, defaults={"halted": True, "reason": "drill"})
    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.20"}) == "refused"
    b.refresh_from_db()
    assert b.status == Bracket.Status.FAILED and "halted for everyone: drill" in b.note
    assert not Order.objects.filter(reduce_only=True).exists()
    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.20"}) == ""


def test_the_traders_risk_limits_apply_to_the_stop(alice):
    b = active(alice)
    TraderProfile.objects.filter(user=alice).update(max_contracts_per_order=D(2))
    b = Bracket.objects.select_related("user").get(pk=b.pk)  # as the runner reads it, each pass
    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.20"}) == "refused"
    assert "limit of 2 contracts" in Bracket.objects.get(pk=b.pk).note


# ------------------------------------------------------------------------------------------- the trader


def test_only_the_owner_cancels_and_cancel_disarms(alice):
    b = active(alice)
    bob = make_user("bob")
    assert not brackets.cancel(bob, b)
    assert brackets.cancel(alice, b)
    b.refresh_from_db()
    assert b.status == Bracket.Status.CANCELED
    assert (
        Order.objects.get(pk=b.take_profit_order_id).status == Order.Status.CANCELED
    )  # unsent: canceled here
    assert brackets.advance(b, {**QUOTE, "yes_bid": "0.10"}) == ""


def test_a_bracket_attaches_once_and_only_to_your_own_order(alice):
    entry, _ = bracket_for(alice)
    with pytest.raises(brackets.BracketRefused, match="has a bracket already"):
        brackets.attach(alice, entry, take_profit=D("0.50"), stop=None)
    with pytest.raises(brackets.BracketRefused, match="not yours"):
        brackets.attach(make_user("bob"), entry_order(alice), take_profit=D("0.50"), stop=None)


# ------------------------------------------------------------------------------------------- the runner


def put_live(book_stale=False, connected=True, **quote):
    live.client().set(live.quote_key(TICKER), json.dumps({**QUOTE, **quote}))
    live.client().set(live.book_key(TICKER), json.dumps({"stale": book_stale, "ts": time.time()}))
    live.client().set(live.HEALTH_KEY, json.dumps({"connected": connected}))


def test_a_runner_pass_fires_on_the_feeds_quote_and_keeps_the_market_watched(alice):
    b = active(alice)
    put_live(yes_bid="0.32")
    assert brackets_runner.run_once() == {}
    assert live.client().smembers("kw:watch:brackets") == {TICKER.encode()}
    put_live(yes_bid="0.25", book_stale=True)
    assert brackets_runner.run_once() == {}
    put_live(yes_bid="0.25", connected=False)
    assert brackets_runner.run_once() == {}
    put_live(yes_bid="0.25")
    assert brackets_runner.run_once() == {str(b.pk): "fired"}
    assert brackets_runner.run_once() == {}


def test_a_bracket_that_fails_does_not_stop_the_others(alice, monkeypatch):
    b1, b2 = active(alice), active(alice)
    real = brackets.advance

    def flaky(bracket, quote, *, live=True):
        if bracket.pk == b1.pk:
            raise RuntimeError("boom")
        return real(bracket, quote, live=live)

    monkeypatch.setattr(brackets, "advance", flaky)
    put_live(yes_bid="0.25")
    assert brackets_runner.run_once() == {str(b2.pk): "fired"}


# ------------------------------------------------------------------------------------------- the views

GOOD = {
    "outcome": "yes",
    "action": "buy",
    "count": "3",
    "price_cents": "40",
    "time_in_force": "gtc",
    "take_profit_cents": "60",
    "stop_cents": "30",
    "trigger": "quote",
}


@pytest.fixture
def fresh_book():
    live.client().set(
        live.book_key(TICKER), json.dumps({"bids": [], "asks": [], "stale": False, "ts": time.time()})
    )
    live.client().set(live.HEALTH_KEY, json.dumps({"connected": True}))


def post_bracket(client, **overrides):
    data = {**GOOD, "client_order_id": "5f0f7d4e-0000-4000-8000-000000000001", **overrides}
    return client.post(f"/orders/market/{TICKER}/brackets/place/", data, headers={"HX-Request": "true"})


def test_the_panel_places_the_entry_with_its_bracket_once(client, alice, fresh_book):
    client.force_login(alice)
    response = post_bracket(client)
    assert response.status_code == 200, response.content
    assert response["HX-Trigger"] == "kw:brackets-changed"
    b = Bracket.objects.get()
    assert (b.entry.action, b.entry.count, b.entry.price, b.take_profit_price, b.stop_price) == (
        "buy",
        3,
        D("0.40"),
        D("0.60"),
        D("0.30"),
    )
    assert post_bracket(client).status_code == 200  # the same form posted twice
    assert Bracket.objects.count() == 1 and Order.objects.count() == 1


def test_bad_exits_place_nothing_and_say_why(client, alice, fresh_book):
    client.force_login(alice)
    response = post_bracket(client, stop_cents="45")
    assert "The stop must be below the entry price (40¢)." in response.content.decode()
    response = post_bracket(client, take_profit_cents="60.5")
    assert "Not on this market&#x27;s price grid" in response.content.decode()
    response = post_bracket(client, take_profit_cents="", stop_cents="")
    assert "Give a take-profit, a stop, or both." in response.content.decode()
    assert not Order.objects.exists() and not Bracket.objects.exists()


def test_the_panel_refuses_on_a_stale_feed(client, alice):
    client.force_login(alice)
    response = post_bracket(client)
    assert "Waiting for the order book" in response.content.decode()
    assert not Order.objects.exists()


def test_traders_see_and_cancel_only_their_own_brackets(client, alice):
    b = active(alice)
    bob = make_user("bob")
    TraderProfile.objects.create(user=bob, account=alice.trader.account)  # two traders, one Kalshi account
    client.force_login(bob)
    assert f'id="bracket-{b.pk}"' not in client.get("/orders/brackets/").content.decode()
    assert client.post(f"/orders/brackets/{b.pk}/cancel/").status_code == 404
    assert Bracket.objects.get(pk=b.pk).status == Bracket.Status.ACTIVE
    client.force_login(alice)
    page = client.get(f"/orders/market/{TICKER}/brackets/").content.decode()
    assert f'id="bracket-{b.pk}"' in page and "stop armed (held by kalshiweb)" in page
    response = client.post(
        f"/orders/brackets/{b.pk}/cancel/", {"ticker": TICKER}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert Bracket.objects.get(pk=b.pk).status == Bracket.Status.CANCELED


def test_the_market_and_orders_pages_say_kalshi_does_not_hold_them(client, alice, fresh_book):
    client.force_login(alice)
    for url in (f"/markets/{TICKER}/", "/orders/"):
        page = client.get(url).content.decode()
        assert "Kalshi does not hold these." in page, url


def test_a_bad_trigger_choice_is_refused_next_to_the_field(client, alice, fresh_book):
    client.force_login(alice)
    response = post_bracket(client, trigger="mid")
    assert "Select a valid choice" in response.content.decode()
    assert not Order.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_processes_firing_the_same_stop_at_once_send_one_order(monkeypatch):
    """Two feed processes (here two threads, each with its own database connection) read the bracket ACTIVE and
    fire together: the conditional update lets one through."""
    import threading

    from django.db import connection

    account = KalshiAccount.objects.create(name="acct-a", api_key_id="key-a")
    user = make_user("alice")
    TraderProfile.objects.create(user=user, account=account)
    make_market(TICKER)
    b = active(user)
    copies = [Bracket.objects.select_related("user").get(pk=b.pk) for _ in range(2)]
    barrier, results, errors = threading.Barrier(2), [], []

    def run(copy):
        try:
            barrier.wait(5)
            results.append(brackets.fire(copy, D("0.20"), None))
        except Exception as exc:  # pragma: no cover - shown in the assertion
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in copies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors and sorted(results) == ["", "fired"]
    assert Order.objects.filter(reduce_only=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_armed_stops_survive_a_restart_of_the_feed_leader():
    """The brackets live in the database: a runner started after another one stopped (a feed restart or a new
    leader) fires a stop armed before it started. The runner is registered as a feed-leader task."""
    import asyncio

    from markets import extensions

    account = KalshiAccount.objects.create(name="acct-a", api_key_id="key-a")
    user = make_user("alice")
    TraderProfile.objects.create(user=user, account=account)
    make_market(TICKER)
    b = active(user)
    put_live(yes_bid="0.40")

    async def lead_for(seconds: float) -> None:
        tasks = [  # other leader tasks may be plain functions (markets' incentive-programs refresh)
            t
            for t in extensions.feed_leader_tasks()
            if isinstance(getattr(t, "__self__", None), brackets_runner.BracketRunner)
        ]
        assert len(tasks) == 1
        task = asyncio.ensure_future(tasks[0]())
        await asyncio.sleep(seconds)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(lead_for(0.3))  # the first leader: nothing to do
    assert Bracket.objects.get(pk=b.pk).status == Bracket.Status.ACTIVE
    put_live(yes_bid="0.25")  # the price crosses while no leader runs
    asyncio.run(lead_for(1.5))  # the next leader fires it
    assert Bracket.objects.get(pk=b.pk).status == Bracket.Status.TRIGGERED
    assert Order.objects.filter(reduce_only=True).count() == 1
