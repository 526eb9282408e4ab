"""/metrics: Prometheus text behind a bearer token, adding up what the web, worker and feed processes count."""

from __future__ import annotations

import asyncio
import os
import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from kalshiweb.metrics import endpoint_label
from tests.factories import make_user
from trading.models import Order
from trading.services import place_order

TOKEN = "metrics-test-token"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "pid"))
            found[(sample.name, labels)] = found.get((sample.name, labels), 0.0) + sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_metrics_is_404_without_a_token_configured_and_401_with_a_wrong_one(client, settings):
    settings.KALSHIWEB_METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    settings.KALSHIWEB_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "kalshiweb_feed_message_age_seconds" in response.content.decode()


def test_endpoint_labels_keep_the_path_and_drop_tickers_and_ids():
    assert endpoint_label("/markets/KXFED-26DEC-T4.25/orderbook") == "/markets/{id}/orderbook"
    assert endpoint_label("/portfolio/events/orders/3f2a-77") == "/portfolio/events/orders/{id}"
    assert endpoint_label("/exchange/status?x=1") == "/exchange/status"


@pytest.fixture
def metrics_env(monkeypatch):
    monkeypatch.setenv("KALSHIWEB_METRICS_TOKEN", TOKEN)


@pytest.fixture
def server(metrics_env, sim, sim_settings, daphne_server, feed_process) -> str:
    return daphne_server


def scrape(base: str) -> dict[Any, float]:
    response = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200
    return samples(response.text)


def open_market(sim) -> str:
    return sim.call(
        lambda: next(
            t
            for t, m in sim.exchange.markets.items()
            if m.status == "active" and m.price_level_structure == "linear_cent"
        )
    )


def wait_for(predicate, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.mark.django_db(transaction=True)
def test_metrics_add_up_the_worker_the_web_process_and_the_feed(server, sim, trader, celery_worker, settings):
    before = scrape(server)
    ticker = open_market(sim)
    order_data = {
        "outcome": "yes",
        "action": "buy",
        "price": D("0.02"),
        "count": D("3"),
        "time_in_force": "gtc",
        "expiration": None,
        "post_only": False,
        "reduce_only": False,
    }
    sim.faults.fail_next(2, "429", path_prefix="/portfolio/events/orders")
    try:
        order = place_order(trader, order_data, ticker)
        wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.RESTING).exists(), timeout=30)
    finally:
        sim.faults.reset()
    rejected = place_order(trader, {**order_data, "count": D("100000000"), "price": D("0.90")}, ticker)
    wait_for(lambda: Order.objects.filter(pk=rejected.pk, status=Order.Status.REJECTED).exists())

    # The worker (this process) counted; the daphne process's /metrics reports it.
    after = wait_for(
        lambda: (
            found
            if value(found := scrape(server), "kalshiweb_orders_submitted_total", outcome="rejected")
            > value(before, "kalshiweb_orders_submitted_total", outcome="rejected")
            else None
        )
    )

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("kalshiweb_orders_submitted_total", outcome="accepted") == 1
    assert delta("kalshiweb_orders_submitted_total", outcome="retried") == 2
    assert delta("kalshiweb_orders_submitted_total", outcome="rejected") == 1
    assert delta("kalshiweb_order_submit_seconds_count") == 2  # first attempts only
    assert delta("kalshiweb_order_submit_seconds_sum") > 0
    orders = "POST /portfolio/events/orders"
    assert delta("kalshiweb_exchange_requests_total", endpoint=orders, status="429") == 2
    assert delta("kalshiweb_exchange_requests_total", endpoint=orders, status="201") == 1
    assert delta("kalshiweb_exchange_requests_total", endpoint=orders, status="400") == 1
    assert delta("kalshiweb_exchange_rate_limited_total", endpoint=orders) == 2
    assert (
        "kalshiweb_celery_queue_length",
        (("queue", settings.CELERY_TASK_DEFAULT_QUEUE),),
    ) in after

    # The feed process's health: connected, with the age of its last message.
    feed = wait_for(lambda: f if value(f := scrape(server), "kalshiweb_feed_connected") == 1 else None)
    assert ("kalshiweb_feed_message_age_seconds", ()) in feed


@pytest.mark.django_db(transaction=True)
def test_the_browser_socket_gauge_follows_sockets_in_the_web_process(metrics_env, daphne_server):
    user = make_user("alice")
    web = Client()
    web.force_login(user)
    cookie = f"sessionid={web.cookies['sessionid'].value}"
    url = daphne_server.replace("http://", "ws://") + "/ws/markets/?view=row&tickers="

    def sockets() -> float:
        return value(scrape(daphne_server), "kalshiweb_browser_sockets")

    start = sockets()

    async def hold_two() -> tuple[float, float]:
        headers = {"Cookie": cookie, "Origin": daphne_server}
        async with websockets.connect(url, additional_headers=headers) as one:
            async with websockets.connect(url, additional_headers=headers):
                await asyncio.sleep(0.3)
                both = await asyncio.to_thread(sockets)
            await asyncio.sleep(0.3)
            single = await asyncio.to_thread(sockets)
            del one
        return both, single

    both, single = asyncio.run(hold_two())
    assert (both - start, single - start) == (2, 1)
    assert wait_for(lambda: sockets() == start or None, timeout=5)
    assert os.environ["KALSHIWEB_METRICS_TOKEN"] == TOKEN


KILLED_WITH_SOCKETS = """
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kalshiweb.settings")
django.setup()
from kalshiweb import metrics
metrics.BROWSER_SOCKETS.inc(3)
os._exit(0)  # like a kill: no clean exit
"""


@pytest.mark.django_db
def test_the_sockets_of_a_process_that_died_without_exiting_stop_counting(client, settings):
    import subprocess
    import sys

    from tests.conftest import ROOT

    settings.KALSHIWEB_METRICS_TOKEN = TOKEN
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = value(
        samples(client.get("/metrics", headers=auth).content.decode()), "kalshiweb_browser_sockets"
    )
    done = subprocess.run([sys.executable, "-c", KILLED_WITH_SOCKETS], cwd=ROOT, timeout=60)
    assert done.returncode == 0
    assert list(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("gauge_livesum_*.db"))
    after = value(samples(client.get("/metrics", headers=auth).content.decode()), "kalshiweb_browser_sockets")
    assert after == before
