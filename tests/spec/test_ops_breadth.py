"""Issue #15 items 4, 8 and 11 in the simulator: fee changes, event metadata and candlesticks, multivariate
events, search, incentive programs, structured targets, milestones, live data and API keys. Each operation is
answered once with success and once with an error against a freshly started simulator, and every answer is
checked against Kalshi's OpenAPI file."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from kalshiweb.simulator.auth import generate_rsa_key_pair
from kalshiweb.simulator.discovery import IncentiveProgram, LiveData, Milestone, StructuredTarget
from tests.simulator.simhelp import Trader, add_markets, drain
from tests.spec.test_rest_conformance import Case, send

from .conftest import EVENT, TICKERS, SpecSim

SERIES = "KXSIM"
NOW = int(time.time())
CANDLES = {"start_ts": NOW - 3600, "end_ts": NOW, "period_interval": 1}
MV_EVENT = "KXSPECMV-26DEC31"
GAME = "ms-game-1"
PUBLIC_PEM = generate_rsa_key_pair()[1].decode()

CASES = {
    "series-fee-changes": Case(
        "GET", "/series/fee_changes", 200, "GetSeriesFeeChanges", params={"show_historical": "true"}
    ),
    "series-fee-changes-400": Case(
        "GET", "/series/fee_changes", 400, "GetSeriesFeeChanges", params={"show_historical": "maybe"}
    ),
    "event-fee-changes": Case("GET", "/events/fee_changes", 200, "GetEventFeeChanges"),
    "event-fee-changes-400": Case(
        "GET", "/events/fee_changes", 400, "GetEventFeeChanges", params={"limit": "lots"}
    ),
    "event-metadata": Case("GET", f"/events/{EVENT}/metadata", 200, "GetEventMetadata"),
    "event-metadata-404": Case("GET", "/events/KXNOPE-1/metadata", 404, "GetEventMetadata"),
    "event-candles": Case(
        "GET",
        f"/series/{SERIES}/events/{EVENT}/candlesticks",
        200,
        "GetMarketCandlesticksByEvent",
        params=CANDLES,
    ),
    "event-candles-400": Case(
        "GET", f"/series/{SERIES}/events/{EVENT}/candlesticks", 400, "GetMarketCandlesticksByEvent"
    ),
    "multivariate": Case(
        "GET", "/events/multivariate", 200, "GetMultivariateEvents", params={"with_nested_markets": "true"}
    ),
    "multivariate-400": Case(
        "GET", "/events/multivariate", 400, "GetMultivariateEvents", params={"limit": "0"}
    ),
    "tags": Case("GET", "/search/tags_by_categories", 200, "GetTagsForSeriesCategories"),
    "tags-401": Case(
        "GET", "/search/tags_by_categories", 401, "GetTagsForSeriesCategories", who="bad-signature"
    ),
    "sports": Case("GET", "/search/filters_by_sport", 200, "GetFiltersForSports", who="anonymous"),
    "sports-401": Case("GET", "/search/filters_by_sport", 401, "GetFiltersForSports", who="bad-signature"),
    "incentives": Case(
        "GET", "/incentive_programs", 200, "GetIncentivePrograms", params={"status": "active"}
    ),
    "incentives-400": Case(
        "GET", "/incentive_programs", 400, "GetIncentivePrograms", params={"status": "sleeping"}
    ),
    "targets": Case("GET", "/structured_targets", 200, "GetStructuredTargets", params={"type": "team"}),
    "targets-401": Case("GET", "/structured_targets", 401, "GetStructuredTargets", who="bad-signature"),
    "target": Case("GET", "/structured_targets/st-1", 200, "GetStructuredTarget"),
    "target-404": Case("GET", "/structured_targets/st-nope", 404, "GetStructuredTarget"),
    "milestones": Case("GET", "/milestones", 200, "GetMilestones", params={"limit": 10}),
    "milestones-400": Case("GET", "/milestones", 400, "GetMilestones"),
    "milestone": Case("GET", f"/milestones/{GAME}", 200, "GetMilestone"),
    "milestone-404": Case("GET", "/milestones/ms-nope", 404, "GetMilestone"),
    "event-live": Case("GET", f"/live_data/events/{EVENT}", 200, "GetEventLiveData"),
    "event-live-404": Case("GET", "/live_data/events/KXNOPE-1", 404, "GetEventLiveData"),
    "game-stats": Case("GET", f"/live_data/milestone/{GAME}/game_stats", 200, "GetGameStats"),
    "game-stats-404": Case("GET", "/live_data/milestone/ms-nope/game_stats", 404, "GetGameStats"),
    "live-typed": Case("GET", f"/live_data/basketball_game/milestone/{GAME}", 200, "GetLiveData"),
    "live-typed-404": Case("GET", f"/live_data/football_game/milestone/{GAME}", 404, "GetLiveData"),
    "live": Case("GET", f"/live_data/milestone/{GAME}", 200, "GetLiveDataByMilestone"),
    "live-404": Case("GET", "/live_data/milestone/ms-nope", 404, "GetLiveDataByMilestone"),
    "live-batch": Case(
        "GET", "/live_data/batch", 200, "GetLiveDatas", params={"milestone_ids": f"{GAME},ms-nope"}
    ),
    "live-batch-500": Case("GET", "/live_data/batch", 500, "GetLiveDatas", fault="500"),
    "weather": Case("GET", "/live_data/weather/NYC", 200, "GetWeatherIndex", params={"last_sec": 3600}),
    "weather-400": Case("GET", "/live_data/weather/Atlantis", 400, "GetWeatherIndex"),
    "api-key-create": Case(
        "POST", "/api_keys", 201, "CreateApiKey", body={"name": "desk", "public_key": PUBLIC_PEM}
    ),
    "api-key-create-400": Case(
        "POST", "/api_keys", 400, "CreateApiKey", body={"name": "desk", "public_key": "not a key"}
    ),
    "api-key-generate": Case(
        "POST", "/api_keys/generate", 201, "GenerateApiKey", body={"name": "gen", "scopes": ["read"]}
    ),
    "api-key-generate-400": Case(
        "POST", "/api_keys/generate", 400, "GenerateApiKey", body={"name": "gen", "scopes": ["root"]}
    ),
    "api-key-delete": Case("DELETE", "/api_keys/{api_key}", 204, "DeleteApiKey"),  # a key made for the case
    "api-key-delete-404": Case("DELETE", "/api_keys/no-such-key", 404, "DeleteApiKey"),
}

# read by tests/spec/test_rest_conformance.py (the list of implemented operations, route coverage)
IMPLEMENTED = {str(c.operation) for c in CASES.values()}


@pytest.fixture(scope="module")
def breadth_sim(spec_sim: SpecSim) -> SpecSim:
    """The spec simulator with one of each record these operations list."""
    sim = spec_sim.sim
    state = sim.app.discovery
    now = sim.exchange.now
    if MV_EVENT not in sim.exchange.events:
        add_markets(sim, [f"{MV_EVENT}-A"], event=MV_EVENT)
    state.multivariate_events.add(MV_EVENT)
    state.schedule_series_fee_change(
        SERIES, "quadratic_with_maker_fees", Decimal("0.5"), now + timedelta(days=1)
    )
    state.schedule_series_fee_change(SERIES, "quadratic", Decimal("1"), now - timedelta(days=1))
    state.schedule_event_fee_change(EVENT, SERIES, "flat", Decimal("0.25"), now + timedelta(hours=1))
    state.schedule_event_fee_change(EVENT, SERIES, "quadratic", None, now + timedelta(hours=2))
    state.add_sport("Basketball", ["Games"], {"Pro Basketball (M)": ["Games", "Futures"]})
    state.add_incentive_program(
        IncentiveProgram(
            "ip-1",
            TICKERS[0],
            "liquidity",
            "Liquidity incentive",
            now - timedelta(days=1),
            now + timedelta(days=6),
            500000,
            target_size_fp="100.00",
        )
    )
    state.add_structured_target(StructuredTarget("st-1", "Lakers", "team", now, competition="NBA"))
    state.add_milestone(
        Milestone(
            GAME,
            "Sports",
            "basketball_game",
            "Lakers at Celtics",
            now - timedelta(hours=1),
            now,
            related_event_tickers=[EVENT],
            primary_event_tickers=[EVENT],
            competition="NBA",
            details={"home": "Celtics", "away": "Lakers"},
        )
    )
    state.set_live_data(
        LiveData(
            GAME,
            "basketball_game",
            {"home_points": 54, "away_points": 50, "period": 2, "clock": "4:12"},
            periods=[{"events": [{"type": "score", "team": "home", "points": 2}]}],
        )
    )
    return spec_sim


@pytest.mark.parametrize("name", list(CASES))
def test_each_breadth_operation_answers_as_the_spec_says(breadth_sim: SpecSim, name: str) -> None:
    case = CASES[name]
    before = len(breadth_sim.checker.violations)
    if "{api_key}" in case.path:
        made = _ok(breadth_sim.alice, "POST", "/api_keys", {"name": "to-delete", "public_key": PUBLIC_PEM})
        case = Case(
            case.method, case.path.replace("{api_key}", made["api_key_id"]), case.status, case.operation
        )
    response = send(breadth_sim, case)
    assert response.status_code == case.status, response.text
    assert breadth_sim.checker.violations[before:] == []
    assert (case.operation, case.status) in breadth_sim.checker.operations_seen


def _ok(trader: Trader, method: str, path: str, body: Any = None, **params: Any) -> Any:
    response = trader.request(method, path, body=body, params=params or None)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def test_an_api_key_created_lists_deletes_and_is_gone(breadth_sim: SpecSim) -> None:
    alice, bob = breadth_sim.alice, breadth_sim.bob
    created = _ok(alice, "POST", "/api_keys/generate", {"name": "one-step", "scopes": ["read", "write"]})
    assert "BEGIN PRIVATE KEY" in created["private_key"]
    listed = {k["api_key_id"]: k for k in _ok(alice, "GET", "/api_keys")["api_keys"]}
    assert listed[created["api_key_id"]]["name"] == "one-step"
    # another account cannot see or delete it
    assert created["api_key_id"] not in {k["api_key_id"] for k in _ok(bob, "GET", "/api_keys")["api_keys"]}
    assert bob.request("DELETE", f"/api_keys/{created['api_key_id']}").status_code == 404
    # the generated key signs requests as Alice
    as_new = Trader.__new__(Trader)
    as_new.__dict__.update(alice.__dict__)
    as_new.key_id, as_new.private_pem = created["api_key_id"], created["private_key"].encode()
    assert as_new.request("GET", "/portfolio/balance").status_code == 200
    before = len(breadth_sim.checker.violations)
    assert alice.request("DELETE", f"/api_keys/{created['api_key_id']}").status_code == 204
    assert ("DeleteApiKey", 204) in breadth_sim.checker.operations_seen
    assert breadth_sim.checker.violations[before:] == []
    assert as_new.request("GET", "/portfolio/balance").status_code == 401
    assert created["api_key_id"] not in {k["api_key_id"] for k in _ok(alice, "GET", "/api_keys")["api_keys"]}


def test_a_due_series_fee_change_takes_effect_and_pending_ones_do_not(breadth_sim: SpecSim) -> None:
    alice = breadth_sim.alice
    pending = _ok(alice, "GET", "/series/fee_changes", series_ticker=SERIES)["series_fee_change_arr"]
    assert [c["fee_type"] for c in pending] == ["quadratic_with_maker_fees"]
    history = _ok(alice, "GET", "/series/fee_changes", series_ticker=SERIES, show_historical="true")
    assert len(history["series_fee_change_arr"]) == 2
    assert _ok(alice, "GET", f"/series/{SERIES}")["series"]["fee_type"] == "quadratic"
    sim = breadth_sim.sim
    state = sim.app.discovery
    sim.call(state.apply_due, sim.exchange.now + timedelta(days=2), sim.exchange.series)
    series = _ok(alice, "GET", f"/series/{SERIES}")["series"]
    assert (series["fee_type"], series["fee_multiplier"]) == ("quadratic_with_maker_fees", 0.5)
    assert _ok(alice, "GET", "/series/fee_changes", series_ticker=SERIES)["series_fee_change_arr"] == []


def test_event_metadata_candles_and_multivariate_carry_the_event_markets(breadth_sim: SpecSim) -> None:
    alice = breadth_sim.alice
    meta = _ok(alice, "GET", f"/events/{EVENT}/metadata")
    assert [d["market_ticker"] for d in meta["market_details"]] == TICKERS
    assert meta["competition"] == "NBA"
    candles = _ok(alice, "GET", f"/series/{SERIES}/events/{EVENT}/candlesticks", **CANDLES)
    assert candles["market_tickers"] == TICKERS and len(candles["market_candlesticks"]) == len(TICKERS)
    mv = _ok(alice, "GET", "/events/multivariate", with_nested_markets="true")["events"]
    assert [e["event_ticker"] for e in mv] == [MV_EVENT]
    assert [m["ticker"] for m in mv[0]["markets"]] == [f"{MV_EVENT}-A"]


def test_every_breadth_route_is_in_the_spec_and_covered(breadth_sim: SpecSim) -> None:
    from tests.spec.conformance import openapi
    from tests.spec.test_rest_conformance import _sample

    routes = breadth_sim.sim.app.routes
    served = set()
    for route in routes:
        op, _ = openapi().match(route.method, _sample(route.pattern.pattern))
        if op is not None:
            served.add(op.operation_id)
    assert IMPLEMENTED <= served
    assert len(IMPLEMENTED) == 21


# -- WebSocket: event_lifecycle, event_fee_update, multivariate_market_lifecycle ------------------------------


async def test_new_events_fee_overrides_and_multivariate_lifecycle_are_announced(
    breadth_sim: SpecSim,
) -> None:
    from kalshiweb.simulator.model import Event
    from tests.spec.test_ws_conformance import subscribe

    sim, alice = breadth_sim.sim, breadth_sim.alice
    before = len(breadth_sim.checker.violations)
    async with alice.connect() as ws:
        await subscribe(ws, 1, ["market_lifecycle_v2"])
        await subscribe(ws, 2, ["multivariate_market_lifecycle"])
        await drain(ws)
        sim.call(sim.exchange.add_event, Event("KXSPECNEW-27JAN01", SERIES, "A new event", sub_title="Jan 1"))
        at = sim.exchange.now - timedelta(seconds=1)
        sim.app.discovery.schedule_event_fee_change("KXSPECNEW-27JAN01", SERIES, "flat", Decimal("0.5"), at)
        sim.call(sim.exchange.settle_market, f"{MV_EVENT}-A", "no")
        messages = await drain(ws, quiet=0.6)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        by_type.setdefault(m["type"], []).append(m["msg"])
    assert [m["event_ticker"] for m in by_type["event_lifecycle"]] == ["KXSPECNEW-27JAN01"]
    assert by_type["event_fee_update"] == [
        {"event_ticker": "KXSPECNEW-27JAN01", "fee_type_override": "flat", "fee_multiplier_override": 0.5}
    ]
    assert {m["event_type"] for m in by_type["multivariate_market_lifecycle"]} >= {"determined", "settled"}
    # a market of an ordinary event is not on the multivariate channel
    assert all(m["market_ticker"].startswith(MV_EVENT) for m in by_type["multivariate_market_lifecycle"])
    assert breadth_sim.checker.violations[before:] == []
    assert {
        "eventLifecycle",
        "eventFeeUpdate",
        "multivariateMarketLifecycle",
    } <= breadth_sim.checker.messages_seen
