"""What a browser socket accepts, through daphne on the real database and Redis: only known open markets are
watched (a bogus or closed ticker never reaches the feed), oversized or deeply nested commands are refused
without closing the socket, and one user's sockets are capped across processes with a reason the page shows."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
import redis
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from markets.hub import WATCH_PREFIX
from tests.factories import make_market, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def cookie_for(user) -> str:
    web = Client()
    web.force_login(user)
    return f"sessionid={web.cookies['sessionid'].value}"


def ws_url(base: str, tickers: str = "") -> str:
    return base.replace("http://", "ws://") + f"/ws/markets/?view=row&tickers={tickers}"


def watched() -> set[str]:
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        keys = list(client.scan_iter(match=f"{WATCH_PREFIX}*"))
        return {m.decode() for m in client.sunion(keys)} if keys else set()
    finally:
        client.close()


async def frames(ws, seconds: float) -> list[str]:
    out: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
        except TimeoutError:
            break
    return out


def test_only_known_open_markets_are_watched(daphne_server):
    make_market("KXOPEN-26DEC31-T1")
    make_market("KXSHUT-26DEC01-T1", status="closed")
    cookie = cookie_for(make_user("alice"))

    async def run() -> list[str]:
        url = ws_url(daphne_server, "KXOPEN-26DEC31-T1,KXSHUT-26DEC01-T1,KXNOPE-26DEC31-T1")
        async with connect(url, origin=daphne_server, additional_headers={"Cookie": cookie}) as ws:
            got = await frames(ws, 1.0)
            await ws.send(json.dumps({"action": "watch", "tickers": ["KXNOPE-26DEC31-T2"]}))
            got += await frames(ws, 0.5)
            assert watched() == {"KXOPEN-26DEC31-T1"}
            return got

    got = " ".join(asyncio.run(run()))
    assert "Not live: 2 market(s) unknown or not open (KXSHUT-26DEC01-T1, KXNOPE-26DEC31-T1)" in got
    assert "Not live: 1 market(s) unknown or not open (KXNOPE-26DEC31-T2)" in got


def test_huge_or_deeply_nested_commands_get_an_error_and_the_socket_stays_open(daphne_server):
    make_market("KXOPEN-26DEC31-T1")
    cookie = cookie_for(make_user("alice"))

    async def run() -> list[str]:
        async with connect(
            ws_url(daphne_server), origin=daphne_server, additional_headers={"Cookie": cookie}
        ) as ws:
            await ws.send("[" * 50_000)  # over the size cap: refused unparsed
            await ws.send("[" * 10_000)  # under it, but deeper than the JSON parser's recursion allows
            got = await frames(ws, 1.0)
            await ws.send(json.dumps({"action": "watch", "tickers": ["KXOPEN-26DEC31-T1"]}))
            await asyncio.sleep(0.5)
            assert "KXOPEN-26DEC31-T1" in watched()  # still open and working
            return got

    got = " ".join(asyncio.run(run()))
    assert "too large" in got and "malformed" in got


@pytest.fixture
def three_sockets_per_user(monkeypatch):
    monkeypatch.setenv("KALSHIWEB_MAX_SOCKETS_PER_USER", "3")


def test_one_user_holds_at_most_the_configured_sockets_and_is_told_why(three_sockets_per_user, daphne_server):
    alice, bob = make_user("alice"), make_user("bob")
    alice_cookie, bob_cookie = cookie_for(alice), cookie_for(bob)
    # A socket of a process that died: its entry has expired and does not count.
    stale = redis.Redis.from_url(os.environ["REDIS_URL"])
    stale.zadd(f"kw:sockets:user:{alice.pk}", {"dead-process-socket": time.time() - 5})
    stale.close()

    async def run() -> None:
        opened = [
            await connect(
                ws_url(daphne_server), origin=daphne_server, additional_headers={"Cookie": alice_cookie}
            )
            for _ in range(3)
        ]
        fourth = await connect(
            ws_url(daphne_server), origin=daphne_server, additional_headers={"Cookie": alice_cookie}
        )
        told = await asyncio.wait_for(fourth.recv(), 3)
        assert "Too many open pages (at most 3 per user)" in told
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(fourth.recv(), 3)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
        # Another user is not affected, and closing a page frees a place.
        async with connect(
            ws_url(daphne_server), origin=daphne_server, additional_headers={"Cookie": bob_cookie}
        ):
            pass
        await opened[0].close()
        await asyncio.sleep(0.3)
        again = await connect(
            ws_url(daphne_server), origin=daphne_server, additional_headers={"Cookie": alice_cookie}
        )
        assert await frames(again, 0.5) is not None
        assert again.close_code is None
        for ws in [*opened[1:], again]:
            await ws.close()

    asyncio.run(run())


@pytest.fixture
def one_socket_per_user(monkeypatch):
    monkeypatch.setenv("KALSHIWEB_MAX_SOCKETS_PER_USER", "1")


@pytest.mark.browser
def test_a_page_over_the_limit_says_why_and_polls(one_socket_per_user, daphne_server, browser):
    make_market("KXOPEN-26DEC31-T1")
    make_user("alice")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    first = context.new_page()
    first.goto(f"{daphne_server}/login/")
    first.fill("input[name=username]", "alice")
    first.fill("input[name=password]", "correct-horse-battery")
    first.click("button[type=submit]")
    first.goto(f"{daphne_server}/markets/")
    first.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=15000)
    second = context.new_page()
    second.goto(f"{daphne_server}/markets/")
    second.locator("#ws-error").filter(has_text="Too many open pages").wait_for(timeout=15000)
    second.locator("#conn-badge").filter(has_text="Polling").wait_for(timeout=15000)
    assert first.locator("#conn-badge").inner_text() == "Live"
    context.close()


def test_a_socket_whose_predecessor_is_still_being_released_is_not_refused(
    one_socket_per_user, daphne_server
):
    """A page that navigates closes its socket as the next page opens one: with the user at the limit, the old
    socket's release may land a moment after the new socket asks. Here the old socket's entry is removed 0.3 s
    after the new one connects (the release in flight); the new socket is admitted, not told "too many"."""
    make_market("KXOPEN-26DEC31-T1")
    alice = make_user("alice")
    cookie = cookie_for(alice)
    key = f"kw:sockets:user:{alice.pk}"
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.zadd(key, {"closing-socket": time.time() + 60})

    async def run() -> tuple[list[str], int | None]:
        async def release_later() -> None:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(client.zrem, key, "closing-socket")

        releasing = asyncio.create_task(release_later())
        async with connect(
            ws_url(daphne_server, "KXOPEN-26DEC31-T1"),
            origin=daphne_server,
            additional_headers={"Cookie": cookie},
        ) as ws:
            seen = await frames(ws, 2.0)
            await releasing
            return seen, ws.close_code

    try:
        seen, code = asyncio.run(run())
    finally:
        client.delete(key)
        client.close()
    assert not any("Too many open pages" in f for f in seen), seen
    assert code is None
