"""Alerts (issue #16): when each kind is met (unit), the page's validation and ownership, firing once, and on the
real parts a price alert and an order-fill alert each firing once on the trader's open page (browser)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from tests.factories import make_market, make_user
from trading import alerts
from trading.models import Alert, Order

NOW = timezone.now()


def alert(kind: str, threshold: str | None, ticker: str = "KXA-1") -> Alert:
    return Alert(kind=kind, threshold=None if threshold is None else D(threshold), ticker=ticker)


@pytest.mark.parametrize(
    ("kind", "threshold", "quote", "close_in", "expected"),
    [
        ("price_above", "0.60", {"last_price": "0.61"}, None, "last price 61¢"),
        ("price_above", "0.60", {"last_price": "0.60"}, None, "last price 60¢"),
        ("price_above", "0.60", {"last_price": "0.59"}, None, None),
        ("price_below", "0.30", {"last_price": "0.295"}, None, "last price 29.5¢"),
        ("price_below", "0.30", {"last_price": "0.31"}, None, None),
        ("price_above", "0.60", {}, None, None),  # no trade yet: nothing to compare
        ("price_above", "0.60", {"last_price": "NaN"}, None, None),
        ("price_above", "0.60", {"last_price": "garbage"}, None, None),
        ("spread_below", "0.02", {"yes_bid": "0.40", "yes_ask": "0.42"}, None, "spread 2¢"),
        ("spread_below", "0.02", {"yes_bid": "0.40", "yes_ask": "0.45"}, None, None),
        ("spread_below", "0.02", {"yes_bid": "0.40"}, None, None),  # one side empty
        ("closing_within", "30", {}, 20, "closes in 20 min"),
        ("closing_within", "30", {}, 45, None),
        ("closing_within", "30", {}, -5, None),  # already closed: not "closing within"
        ("closing_within", "30", {}, None, None),
    ],
)
def test_when_a_market_alert_is_met(kind, threshold, quote, close_in, expected):
    close = None if close_in is None else NOW + timedelta(minutes=close_in, seconds=30)
    assert alerts.met(alert(kind, threshold), quote, close, NOW) == expected


@pytest.fixture
def alice(client, db):
    user = make_user("alice")
    client.force_login(user)
    return user


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"kind": "price_above", "ticker": "KXNOPE-1", "level": "60"}, "ticker", "No market"),
        ({"kind": "price_above", "ticker": "", "level": "60"}, "ticker", "Name the market"),
        ({"kind": "price_above", "ticker": "KXFED-26DEC-T4.25", "level": "abc"}, "level", "Enter a number"),
        ({"kind": "price_above", "ticker": "KXFED-26DEC-T4.25", "level": "NaN"}, "level", "Enter a number"),
        (
            {"kind": "price_above", "ticker": "KXFED-26DEC-T4.25", "level": "100"},
            "level",
            "between 0 and 100",
        ),
        ({"kind": "closing_within", "ticker": "KXFED-26DEC-T4.25", "level": "2.5"}, "level", "Whole minutes"),
        ({"kind": "nonsense", "ticker": "KXFED-26DEC-T4.25", "level": "5"}, "kind", "Select a valid choice"),
    ],
)
def test_a_bad_alert_is_refused_with_the_reason_on_its_field_and_nothing_stored(
    client, alice, form, field, message
):
    make_market("KXFED-26DEC-T4.25")
    response = client.post("/orders/alerts/", form)
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body and Alert.objects.count() == 0
    if field in ("ticker", "level"):
        assert f'aria-describedby="alert-{field}-error"' in body


def test_a_trader_sets_sees_and_deletes_alerts_and_cannot_touch_anothers(client, alice):
    make_market("KXFED-26DEC-T4.25")
    assert (
        client.post(
            "/orders/alerts/", {"kind": "price_above", "ticker": "kxfed-26dec-t4.25", "level": "62.5"}
        ).status_code
        == 302
    )
    assert (
        client.post("/orders/alerts/", {"kind": "order_filled", "ticker": "", "email": "on"}).status_code
        == 302
    )
    price, fills = Alert.objects.order_by("pk")
    assert (price.ticker, price.threshold, price.email) == ("KXFED-26DEC-T4.25", D("0.625"), False)
    assert (fills.ticker, fills.threshold, fills.email) == ("", None, True)
    page = client.get("/orders/alerts/").content.decode()
    assert (
        "KXFED-26DEC-T4.25: last price at or above 62.5¢" in page
        and "an order of mine fills in any market" in page
    )
    bob_alert = Alert.objects.create(
        user=make_user("bob"), kind="price_below", ticker="KXFED-26DEC-T4.25", threshold=D("0.1")
    )
    assert "at or below 10¢" not in client.get("/orders/alerts/").content.decode()  # only her own

    assert client.post(f"/orders/alerts/{bob_alert.pk}/delete/").status_code == 404
    assert client.post(f"/orders/alerts/{price.pk}/delete/").status_code == 302
    assert list(Alert.objects.values_list("pk", flat=True).order_by("pk")) == [fills.pk, bob_alert.pk]


@pytest.mark.django_db(transaction=True)
def test_an_alert_fires_once_even_when_two_checkers_race(monkeypatch):
    pushed: list[tuple[int, object]] = []
    monkeypatch.setattr(alerts, "notify_user", lambda user_id, html, **kw: pushed.append((user_id, html)))
    user = make_user("carol")
    row = Alert.objects.create(user=user, kind="price_above", ticker="KXA-1", threshold=D("0.5"))
    barrier = threading.Barrier(4)
    results: list[bool] = []

    def check() -> None:
        from django.db import connection

        barrier.wait()
        try:
            results.append(alerts.fire(Alert.objects.get(pk=row.pk), "last price 51¢"))
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert len(pushed) == 1 and pushed[0][0] == user.pk
    row.refresh_from_db()
    assert row.fired_at is not None and row.fired_note == "last price 51¢"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_price_alert_and_a_fill_alert_fire_once_on_the_traders_page(
    sim, trader, feed_process, daphne_server, celery_worker, page
):
    """Set in the browser; a trade inside the spread crosses the level (the feed's quote, checked by the feed
    leader's alert task) and fills the trader's order (the fill path): one toast each, the fired list updates
    without a reload, and the same trade again fires nothing more."""
    from markets.sync import sync_markets
    from tests.helpers import browser_login, open_cent_market, wait_until
    from tests.simulator.simhelp import Trader

    sync_markets()

    def roomy(ticker: str) -> bool:
        yes, no = sim.exchange.book(ticker)
        return bool(yes and no) and (D(1) - max(p for p, _ in no)) - max(p for p, _ in yes) >= D("0.03")

    ticker = open_cent_market(sim, roomy)
    yes, _ = sim.call(sim.exchange.book, ticker)
    level = max(p for p, _ in yes) + D("0.01")  # inside the spread: no resting order there yet
    last = sim.call(lambda: sim.exchange.markets[ticker].last_price)
    kind = "price_below" if last is not None and last > level else "price_above"
    cents = str(int(level * 100))

    page.set_viewport_size({"width": 1440, "height": 900})
    browser_login(page, daphne_server)
    page.goto(f"{daphne_server}/orders/alerts/?ticker={ticker}")
    page.select_option("#alert-form select[name=kind]", kind)
    page.fill("#alert-form input[name=level]", cents)
    page.click("#alert-form button[type=submit]")
    page.locator("#alerts-waiting tr").filter(has_text=f"{cents}¢").wait_for(timeout=10000)
    page.select_option("#alert-form select[name=kind]", "order_filled")
    page.fill("#alert-form input[name=ticker]", ticker)
    page.click("#alert-form button[type=submit]")
    page.locator("#alerts-waiting tr").filter(has_text="an order of mine fills").wait_for(timeout=10000)
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)

    # Bob offers one contract at the level; the trader buys it from the market page's ticket.
    bob = Trader(sim, D("100000"))
    assert bob.order(ticker, "ask", "1.00", f"{level:.4f}").status_code == 201
    page.goto(f"{daphne_server}/markets/{ticker}/")
    # Live first: until the page's socket brings fresh data the ticket may lock and re-render under the fill.
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
    page.locator("#ticket button[type=submit]:enabled").wait_for(timeout=30000)
    page.fill("#ticket input[name=count]", "1")
    page.fill("#ticket input[name=price_cents]", cents)
    # Count every alert toast that arrives (they close by themselves after 10 s).
    page.evaluate(
        """() => { window.kwAlerts = [];
        new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => {
          if (n.classList && n.classList.contains("alert-toast")) window.kwAlerts.push(n.textContent);
        }))).observe(document.getElementById("toasts"), { childList: true }); }"""
    )

    def toasts(text: str) -> int:
        return sum(1 for t in page.evaluate("window.kwAlerts") if text in t)

    page.click("#ticket button[type=submit]")
    try:
        wait_until(lambda: Order.objects.filter(user=trader, ticker=ticker).exists(), timeout=15)
        wait_until(lambda: toasts("last price") == 1 and toasts("an order of mine fills") == 1, timeout=30)
    except AssertionError as exc:  # say which step did not happen
        ticket = page.locator("#ticket").inner_text()[:300]
        orders = list(Order.objects.filter(user=trader).values_list("ticker", "status"))
        raise AssertionError(
            f"{exc}; orders {orders}, toasts {page.evaluate('window.kwAlerts')}, ticket {ticket!r}"
        ) from exc
    assert Alert.objects.filter(user=trader, fired_at__isnull=False).count() == 2

    # The same trade again: both already fired, nothing more arrives.
    assert bob.order(ticker, "ask", "1.00", f"{level:.4f}").status_code == 201
    page.fill("#ticket input[name=count]", "1")
    page.fill("#ticket input[name=price_cents]", cents)
    page.click("#ticket button[type=submit]")
    page.locator("#my-fills-body tr").nth(1).wait_for(timeout=30000)  # the second fill reached the page
    page.wait_for_timeout(2500)  # and several passes of the 1 s checker went by
    assert toasts("last price") == 1 and toasts("an order of mine fills") == 1

    page.goto(f"{daphne_server}/orders/alerts/")
    assert page.locator("#alerts-fired tr.fired").count() == 2
    assert page.locator("#alerts-waiting").inner_text().strip() == "No alerts waiting."


@pytest.mark.django_db(transaction=True)
def test_an_email_alert_sends_one_mail_and_a_mail_failure_loses_nothing(monkeypatch, mailoutbox, settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    monkeypatch.setattr(alerts, "notify_user", lambda *a, **kw: None)
    dora = make_user("dora")
    dora.email = "dora@example.com"
    dora.save()
    row = Alert.objects.create(
        user=dora, kind="spread_below", ticker="KXA-1", threshold=D("0.02"), email=True
    )
    assert alerts.fire(row, "spread 1¢") and not alerts.fire(row, "spread 1¢")
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["dora@example.com"]
    assert "KXA-1: spread at or below 2¢" in mailoutbox[0].body and "spread 1¢" in mailoutbox[0].body

    def refused(*args, **kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(alerts, "send_mail", refused)
    other = Alert.objects.create(
        user=dora, kind="price_above", ticker="KXA-1", threshold=D("0.5"), email=True
    )
    assert alerts.fire(other, "last price 51¢")  # fired and recorded, the mail problem only logged
    other.refresh_from_db()
    assert other.fired_at is not None


@pytest.mark.django_db
def test_the_checker_keeps_the_alerted_markets_subscribed(monkeypatch):
    from markets import live
    from markets.hub import WATCH_PREFIX
    from trading import alerts_runner

    monkeypatch.setattr(alerts, "notify_user", lambda *a, **kw: None)
    make_market("KXFED-26DEC-T4.25")
    Alert.objects.create(
        user=make_user("erin"), kind="price_above", ticker="KXFED-26DEC-T4.25", threshold=D("0.99")
    )
    assert alerts_runner.run_once() == 0  # no quote at 99¢
    assert live.client().smembers(f"{WATCH_PREFIX}alerts") == {b"KXFED-26DEC-T4.25"}
    assert 0 < live.client().ttl(f"{WATCH_PREFIX}alerts") <= 30


@pytest.mark.django_db(transaction=True)
def test_without_a_mail_server_e_mail_is_not_offered_and_an_alert_still_fires(
    client, monkeypatch, mailoutbox, settings
):
    settings.MAILERS = {}
    monkeypatch.setattr(alerts, "notify_user", lambda *a, **kw: None)
    frank = make_user("frank")
    client.force_login(frank)
    assert 'name="email"' not in client.get("/orders/alerts/").content.decode()
    row = Alert.objects.create(user=frank, kind="price_above", ticker="KXA-1", threshold=D("0.5"), email=True)
    assert alerts.fire(row, "last price 51¢") and mailoutbox == []
