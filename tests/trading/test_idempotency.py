"""A double-click places one order: the ticket's token (the order's client_order_id) makes five concurrent POSTs of
the same ticket to a real daphne server create one order, which a real Celery worker sends once to the simulator."""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest

from markets import live
from tests.trading.test_submission import exchange_orders, open_market, wait_for
from trading.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def hidden(body: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', body)
    assert match, body[:2000]
    return match.group(1)


def test_five_concurrent_posts_of_one_ticket_place_one_order(sim, trader, daphne_server, celery_worker):
    ticker = open_market(sim)
    book = {"bids": [], "asks": [], "stale": False, "ts": time.time() + 60}
    live.client().set(live.book_key(ticker), json.dumps(book))
    live.client().set(live.HEALTH_KEY, json.dumps({"connected": True}))

    with httpx.Client(base_url=daphne_server, timeout=30) as browser:
        login = browser.get("/login/").text
        response = browser.post(
            "/login/",
            data={
                "username": "alice",
                "password": "correct-horse-battery",
                "csrfmiddlewaretoken": hidden(login, "csrfmiddlewaretoken"),
            },
        )
        assert response.status_code == 302, response.text[:500]
        ticket = browser.get(f"/orders/market/{ticker}/ticket/").text
        form = {
            "csrfmiddlewaretoken": hidden(ticket, "csrfmiddlewaretoken"),
            "client_order_id": hidden(ticket, "client_order_id"),
            "outcome": "yes",
            "action": "buy",
            "count": "2",
            "price_cents": "2",
            "time_in_force": "gtc",
        }
        cookies = dict(browser.cookies)

    start = threading.Barrier(5)
    answers: list[tuple[int, str]] = []

    def click() -> None:
        with httpx.Client(base_url=daphne_server, cookies=cookies, timeout=30) as tab:
            start.wait()
            r = tab.post(
                f"/orders/market/{ticker}/place/",
                data=form,
                headers={"HX-Request": "true", "Referer": f"{daphne_server}/markets/{ticker}/"},
            )
            answers.append((r.status_code, r.text))

    threads = [threading.Thread(target=click) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert [status for status, _ in answers] == [200] * 5, [a[1][:300] for a in answers]
    order = Order.objects.get(user=trader)
    assert str(order.client_order_id) == form["client_order_id"]
    for _, body in answers:
        assert f'id="order-{order.pk}"' in body and "Order sent: buy 2 YES" in body
    wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.RESTING).exists(), timeout=30)
    assert len(exchange_orders(sim, trader.sim_user_id, form["client_order_id"])) == 1
    assert Order.objects.count() == 1
