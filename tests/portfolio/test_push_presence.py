"""The portfolio's figures are rendered and pushed only to traders with a portfolio page open: a fill made the feed
process re-render the whole portfolio (a row per position) of every trader of the account, watching or not.
Pages are real sockets through daphne (their registration is markets.consumers' own); the push is the one a
fill triggers (portfolio.receivers.on_fill)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from websockets.asyncio.client import connect

from portfolio import receivers, services
from tests.portfolio.helpers import add_trader, make_fill, make_trader
from tests.web.test_socket_admission import cookie_for

pytestmark = pytest.mark.django_db(transaction=True)


async def frames_until(ws, needle: str, seconds: float) -> str:
    got = ""
    deadline = time.monotonic() + seconds
    while needle not in got and time.monotonic() < deadline:
        try:
            got += await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
    return got


def test_a_fill_renders_the_portfolio_only_for_traders_with_a_portfolio_page_open(daphne_server, monkeypatch):
    alice, account = make_trader("alice")
    bob = add_trader("bob", account)  # a market page open, no portfolio page
    add_trader("carol", account)  # nothing open
    rendered: Counter[str] = Counter()
    real_build_view = services.build_view

    def build_view(account, user=None, **kwargs):
        rendered[user.username if user else "account"] += 1
        return real_build_view(account, user, **kwargs)

    monkeypatch.setattr(services, "build_view", build_view)
    base = daphne_server.replace("http://", "ws://")
    alice_cookie, bob_cookie = cookie_for(alice), cookie_for(bob)

    def fill() -> None:
        make_fill(account, "KX-A", "bid", "0.40", "10", user=alice)
        receivers.on_fill(account.pk)

    async def run() -> tuple[str, str]:
        async with (
            connect(f"{base}/ws/markets/?view=portfolio", additional_headers={"Cookie": alice_cookie},
                    origin=daphne_server) as alice_ws,
            connect(f"{base}/ws/markets/?view=row", additional_headers={"Cookie": bob_cookie},
                    origin=daphne_server) as bob_ws,
        ):  # fmt: skip
            await asyncio.to_thread(fill)
            return (
                await frames_until(alice_ws, 'id="portfolio-live"', 5.0),
                await frames_until(bob_ws, "kw:balance-changed", 5.0),
            )

    alice_got, bob_got = asyncio.run(run())

    assert 'id="portfolio-live"' in alice_got and 'id="pf-row-KX-A"' in alice_got
    assert "kw:balance-changed" in bob_got  # the top bar and the ticket's balance line, on any page
    assert rendered == Counter({"alice": 1}), rendered  # not bob's, not carol's


def test_with_no_page_open_a_fill_renders_nothing(monkeypatch):
    alice, account = make_trader("alice")
    rendered: list[object] = []
    monkeypatch.setattr(services, "render_live", lambda *a, **k: rendered.append(a) or "")
    make_fill(account, "KX-A", "bid", "0.40", "10", user=alice)
    services.push(account)
    assert rendered == []


def test_which_pages_each_trader_has_open_is_read_in_one_round_trip(monkeypatch):
    """`open_views_of` answers for every trader of an account at once: a lapsed entry (its socket's process
    died) is not a page; when Redis cannot answer, every trader is "cannot say" (None: pushed to, not skipped)."""
    import redis

    from markets import live, presence

    client = live.client()
    monkeypatch.setattr(live, "client", lambda: client)
    now = time.time()
    client.zadd(presence.sockets_key(901), {presence.member("portfolio", "c1"): now + 60})
    client.zadd(presence.sockets_key(901), {presence.member("detail", "c2"): now + 60})
    client.zadd(presence.sockets_key(902), {presence.member("portfolio", "c3"): now - 1})  # lapsed
    calls = []
    real_pipeline = client.pipeline
    monkeypatch.setattr(client, "pipeline", lambda *a, **k: calls.append(1) or real_pipeline(*a, **k))

    assert presence.open_views_of([901, 902, 903]) == {901: {"portfolio", "detail"}, 902: set(), 903: set()}
    assert len(calls) == 1
    assert presence.open_views_of([]) == {}

    monkeypatch.setattr(live, "client", lambda: redis.Redis(port=1, socket_connect_timeout=0.2))
    assert presence.open_views_of([901, 902]) == {901: None, 902: None}
    assert presence.open_views(901) is None
