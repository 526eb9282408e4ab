"""KalshiClient's combo and RFQ endpoints (issue #15, item 9) against the simulator and its quoting bot."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest

from kalshiweb.kalshi import BadRequest, KalshiClient, NotFound
from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .test_integration_rest import make_client

D = Decimal


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=3, activity=0.0, rate_limit_tier="basic") as running:
        yield running


async def legs(client: KalshiClient) -> list[tuple[str, str, str]]:
    collection = (await client.get_collections()).items[0]
    events = collection.associated_event_tickers[:2]
    out = []
    for event in events:
        market = (await client.get_markets(event_ticker=event, status="open", limit=1)).items[0]
        out.append((market.ticker, event, "yes"))
    return out


async def wait_for_quote(client: KalshiClient, rfq_id: str) -> object:
    for _ in range(100):
        quotes = (await client.get_quotes(rfq_id=rfq_id)).items
        if quotes:
            return quotes[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the bot did not quote")


async def test_a_combo_is_quoted_by_the_bot_and_accepted(sim: RunningSimulator) -> None:
    account = sim.add_account(D("1000"))
    async with make_client(sim, account) as client:
        collection = (await client.get_collections()).items[0]
        assert collection.size_min == 2 and collection.associated_events
        assert (await client.get_collection(collection.collection_ticker)).title == collection.title
        chosen = await legs(client)
        combo = await client.create_combo_market(collection.collection_ticker, chosen)
        again = await client.create_combo_market(collection.collection_ticker, chosen)
        assert again.market_ticker == combo.market_ticker  # the same legs make the same market

        rfq_id = await client.create_rfq(combo.market_ticker, 5)
        rfq = await client.get_rfq(rfq_id)
        assert rfq.status == "open" and rfq.contracts == D("5.00")
        assert [leg.market_ticker for leg in rfq.mve_selected_legs or []] == sorted(m for m, _, _ in chosen)
        quote = await wait_for_quote(client, rfq_id)
        assert quote.status == "open" and 0 < quote.no_bid < 1  # type: ignore[attr-defined]
        price = 1 - quote.no_bid  # type: ignore[attr-defined]

        await client.accept_quote(rfq_id, quote.id, "yes")  # type: ignore[attr-defined]
        for _ in range(100):
            done = await client.get_quote(rfq_id, quote.id)  # type: ignore[attr-defined]
            if done.status == "executed":
                break
            await asyncio.sleep(0.05)
        assert done.status == "executed" and done.rfq_creator_order_id
        fills = (await client.get_fills(ticker=combo.market_ticker)).items
        assert [(f.count, f.yes_price) for f in fills] == [(D("5.00"), price)]
        positions = await client.get_positions(ticker=combo.market_ticker)
        assert [p.position for p in positions.market_positions] == [D("5.00")]
        assert (await client.get_rfq(rfq_id)).status == "closed"
        with pytest.raises(BadRequest):  # accepted twice: refused, nothing traded again
            await client.accept_quote(rfq_id, quote.id, "yes")  # type: ignore[attr-defined]
        assert len((await client.get_fills(ticker=combo.market_ticker)).items) == 1
        assert await client.get_communications_id()


async def test_rfq_errors_are_clear(sim: RunningSimulator) -> None:
    account = sim.add_account(D("1000"))
    async with make_client(sim, account) as client:
        with pytest.raises(NotFound):
            await client.get_rfq("no-such-rfq")
        with pytest.raises(BadRequest, match="2 to 4"):
            await client.create_combo_market("KXMVESIM", [])
        with pytest.raises(NotFound):
            await client.create_rfq("KXNOPE-1", 1)
        rfq_id = await client.create_rfq((await legs(client))[0][0], 1)
        await client.delete_rfq(rfq_id)
        assert (await client.get_rfq(rfq_id)).status == "closed"
        with pytest.raises(ValueError):
            await client.accept_quote(rfq_id, "q", "maybe")
