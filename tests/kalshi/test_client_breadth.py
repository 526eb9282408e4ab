"""KalshiClient's issue #15 breadth endpoints (fees, discovery, live data, API keys) against the built-in
simulator over real loopback HTTP: each call parses the simulator's (spec-checked) answer into typed values."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from kalshiweb.kalshi import KalshiClient, NotFound, Unauthorized
from kalshiweb.simulator.discovery import IncentiveProgram, LiveData, Milestone, StructuredTarget
from kalshiweb.simulator.testing import RunningSimulator, start_simulator
from tests.simulator.simhelp import EVENT, SERIES, TICKERS, add_markets

D = Decimal


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(catalog=False, rate_limit_tier=None) as running:
        add_markets(running)
        state = running.app.discovery
        now = running.exchange.now

        def seed() -> None:
            running.exchange.series[SERIES].tags = ["Fed", "Rates"]
            state.schedule_series_fee_change(
                SERIES, "quadratic_with_maker_fees", D("0.5"), now + timedelta(days=1)
            )
            state.schedule_event_fee_change(EVENT, SERIES, "flat", None, now + timedelta(hours=1))
            state.multivariate_events.add(EVENT)
            state.add_sport("Soccer", ["Games"], {"EPL": ["Games"]})
            state.add_incentive_program(
                IncentiveProgram(
                    "ip-9",
                    TICKERS[0],
                    "volume",
                    "Volume",
                    now - timedelta(days=1),
                    now + timedelta(days=1),
                    12500,
                )
            )
            state.add_structured_target(StructuredTarget("st-9", "Arsenal", "team", now, competition="EPL"))
            state.add_milestone(
                Milestone(
                    "ms-9",
                    "Sports",
                    "soccer_game",
                    "Arsenal v Spurs",
                    now,
                    now,
                    primary_event_tickers=[EVENT],
                )
            )
            state.set_live_data(
                LiveData("ms-9", "soccer_game", {"home_score": 2, "away_score": 1, "period": 2})
            )

        running.call(seed)
        yield running


@pytest.fixture
def client(sim: RunningSimulator) -> Iterator[KalshiClient]:
    key_id, pem = sim.add_account(D("100"))
    yield KalshiClient(sim.rest_base, key_id=key_id, private_key=pem, timeout=5.0)


async def test_fee_changes_parse_into_decimals_and_datetimes(client: KalshiClient) -> None:
    async with client:
        (change,) = await client.get_series_fee_changes(series_ticker=SERIES)
        assert (change.fee_type, change.fee_multiplier) == ("quadratic_with_maker_fees", D("0.5"))
        assert change.scheduled.tzinfo is not None
        page = await client.get_event_fee_changes(event_ticker=EVENT)
        assert [(c.fee_type_override, c.fee_multiplier_override) for c in page.items] == [("flat", None)]


async def test_events_search_and_programs(client: KalshiClient) -> None:
    async with client:
        meta = await client.get_event_metadata(EVENT)
        assert [d.market_ticker for d in meta.market_details] == TICKERS
        now = int(time.time())
        candles = await client.get_event_candlesticks(
            SERIES, EVENT, start_ts=now - 600, end_ts=now, period_interval=1
        )
        assert set(candles.by_market()) == set(TICKERS)
        page, markets = await client.get_multivariate_events(with_nested_markets=True)
        assert [e.event_ticker for e in page.items] == [EVENT] and len(markets[EVENT]) == len(TICKERS)
        assert (await client.get_tags_by_categories())["Economics"] == ["Fed", "Rates"]
        sports = await client.get_filters_by_sport()
        assert sports.sport_ordering == ("Soccer",) and sports.filters_by_sports["Soccer"].scopes == (
            "Games",
        )
        (program,) = (await client.get_incentive_programs(status="active")).items
        assert (program.market_ticker, program.period_reward_dollars) == (TICKERS[0], D("1.25"))
        targets = await client.get_structured_targets(competition="EPL")
        assert [t.name for t in targets.items] == ["Arsenal"]
        assert (await client.get_structured_target("st-9")).type == "team"
        with pytest.raises(NotFound):
            await client.get_structured_target("st-nope")


async def test_milestones_and_live_data(client: KalshiClient) -> None:
    async with client:
        (milestone,) = (await client.get_milestones(related_event_ticker=EVENT)).items
        assert milestone.id == "ms-9" and (await client.get_milestone("ms-9")).title == "Arsenal v Spurs"
        live = await client.get_event_live_data(EVENT)
        assert live.details["home_score"] == 2
        assert (await client.get_live_data("ms-9", type="soccer_game")).milestone_id == "ms-9"
        assert [d.milestone_id for d in await client.get_live_datas(["ms-9", "ms-x"])] == ["ms-9"]
        assert await client.get_game_stats("ms-9") == []
        weather = await client.get_weather_index("NYC", last_sec=3600)
        assert weather.timeseries and all(isinstance(p.v, Decimal) for p in weather.timeseries)


async def test_generate_list_and_delete_an_api_key(sim: RunningSimulator, client: KalshiClient) -> None:
    name = f"kalshiweb-{uuid.uuid4()}"
    async with client:
        generated = await client.generate_api_key(name, scopes=["read"])
        assert "private_key" not in repr(generated) or "<hidden>" in repr(generated)
        found = await client.find_api_key(name=name)
        assert found is not None and found.api_key_id == generated.api_key_id and found.scopes == ("read",)
        new = KalshiClient(
            sim.rest_base, key_id=generated.api_key_id, private_key=generated.private_key.encode()
        )
        async with new:
            await new.get_balance()
            await client.delete_api_key(generated.api_key_id)
            with pytest.raises(Unauthorized):
                await new.get_balance()
        assert await client.find_api_key(name=name) is None
        with pytest.raises(NotFound):
            await client.delete_api_key(generated.api_key_id)
