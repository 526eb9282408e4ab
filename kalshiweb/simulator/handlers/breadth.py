"""Fee changes, event metadata and candlesticks, multivariate events, search, incentive programs, structured
targets, milestones, live data and API-key management (issue #15 items 4, 8 and 11)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kalshiweb.simulator import wire
from kalshiweb.simulator.api import Request, Response, Route, bad_request, not_found, route
from kalshiweb.simulator.auth import KeyRegistry, generate_rsa_key_pair
from kalshiweb.simulator.discovery import (
    Discovery,
    EventFeeChange,
    IncentiveProgram,
    LiveData,
    Milestone,
    SeriesFeeChange,
    StructuredTarget,
)
from kalshiweb.simulator.engine import Exchange
from kalshiweb.simulator.handlers.markets import MarketHandlers
from kalshiweb.simulator.model import json_number
from kalshiweb.simulator.parsing import paginate

API_KEY_SCOPES = (
    "read",
    "write",
    "read::block_trade_accept",
    "read::portfolio_balance",
    "write::trade",
    "write::transfer",
    "write::block_trade_accept",
)
COLORS = ("#0b7285", "#c2255c", "#5f3dc4", "#2b8a3e", "#e67700", "#495057")
WEATHER_CITIES = {"NYC": "New York", "CHI": "Chicago", "MIA": "Miami", "AUS": "Austin", "LAX": "Los Angeles"}


def _ts(dt: datetime) -> str:
    return wire.rfc3339(wire._utc(dt))


def series_fee_change_json(c: SeriesFeeChange) -> dict[str, Any]:
    return {
        "id": c.id,
        "series_ticker": c.series_ticker,
        "fee_type": c.fee_type,
        "fee_multiplier": json_number(c.fee_multiplier),
        "scheduled_ts": _ts(c.scheduled_ts),
    }


def event_fee_change_json(c: EventFeeChange) -> dict[str, Any]:
    return {
        "id": c.id,
        "event_ticker": c.event_ticker,
        "series_ticker": c.series_ticker,
        "fee_type_override": c.fee_type_override,
        "fee_multiplier_override": (
            None if c.fee_multiplier_override is None else json_number(c.fee_multiplier_override)
        ),
        "scheduled_ts": _ts(c.scheduled_ts),
    }


def milestone_json(m: Milestone) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": m.id,
        "category": m.category,
        "type": m.type,
        "start_date": _ts(m.start_date),
        "end_date": None if m.end_date is None else _ts(m.end_date),
        "related_event_tickers": list(m.related_event_tickers),
        "title": m.title,
        "notification_message": m.notification_message,
        "details": dict(m.details),
        "primary_event_tickers": list(m.primary_event_tickers),
        "last_updated_ts": _ts(m.last_updated_ts),
        "source_id": m.source_id,
    }
    if m.competition:
        out["details"].setdefault("competition", m.competition)
    return out


def structured_target_json(t: StructuredTarget) -> dict[str, Any]:
    details = dict(t.details)
    if t.competition:
        details.setdefault("competition", t.competition)
    return {
        "id": t.id,
        "name": t.name,
        "type": t.type,
        "details": details,
        "source_id": t.source_id,
        "last_updated_ts": _ts(t.last_updated_ts),
    }


def incentive_json(p: IncentiveProgram, market_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "market_id": market_id,
        "market_ticker": p.market_ticker,
        "incentive_type": p.incentive_type,
        "incentive_description": p.incentive_description,
        "start_date": _ts(p.start_date),
        "end_date": _ts(p.end_date),
        "period_reward": p.period_reward,
        "paid_out": p.paid_out,
    }
    if p.target_size_fp is not None:
        out["target_size_fp"] = p.target_size_fp
    return out


def live_json(d: LiveData) -> dict[str, Any]:
    return {"type": d.type, "details": dict(d.details), "milestone_id": d.milestone_id}


class BreadthHandlers(MarketHandlers):
    def __init__(
        self,
        exchange: Exchange,
        state: Discovery,
        registry: KeyRegistry,
        apply_fee_changes: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(exchange)
        self.state = state
        self.registry = registry
        self._apply = apply_fee_changes

    def _apply_fee_changes(self) -> None:
        """Changes that fell due since the last clock tick are in effect (and announced) before a read."""
        if self._apply is not None:
            self._apply()
        else:
            self.state.apply_due(self.exchange.now, self.exchange.series)

    # -- fees ------------------------------------------------------------------------------------------------

    def get_series_fee_changes(self, req: Request) -> dict[str, Any]:
        self._apply_fee_changes()
        series_ticker = req.q("series_ticker")
        historical = req.q_bool("show_historical")
        changes = [
            c
            for c in self.state.series_fee_changes
            if (not series_ticker or c.series_ticker == series_ticker) and (historical or not c.applied)
        ]
        changes.sort(key=lambda c: (c.scheduled_ts, c.id))
        return {"series_fee_change_arr": [series_fee_change_json(c) for c in changes]}

    def get_event_fee_changes(self, req: Request) -> dict[str, Any]:
        self._apply_fee_changes()
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        event_ticker = req.q("event_ticker")
        changes = [
            c for c in self.state.event_fee_changes if not event_ticker or c.event_ticker == event_ticker
        ]
        page, cursor = paginate(changes, lambda c: [_ts(c.scheduled_ts), c.id], limit, req.q("cursor"))
        return {"event_fee_changes": [event_fee_change_json(c) for c in page], "cursor": cursor}

    # -- events ----------------------------------------------------------------------------------------------

    def _event_or_404(self, event_ticker: str) -> Any:
        event = self.exchange.events.get(event_ticker)
        if event is None:
            raise not_found(f"event {event_ticker} not found")
        return event

    def get_event_metadata(self, req: Request) -> dict[str, Any]:
        event = self._event_or_404(req.params["event_ticker"])
        details = [
            {"market_ticker": t, "image_url": "", "color_code": COLORS[i % len(COLORS)]}
            for i, t in enumerate(event.markets)
        ]
        out: dict[str, Any] = {
            "image_url": "",
            "settlement_sources": [dict(s) for s in event.settlement_sources],
            "market_details": details,
        }
        milestone = self.state.milestone_of_event(event.event_ticker)
        if milestone is not None and milestone.competition:
            out["competition"] = milestone.competition
        return out

    def get_event_candlesticks(self, req: Request) -> dict[str, Any]:
        event = self.exchange.events.get(req.params["ticker"])
        if event is None or event.series_ticker != req.params["series_ticker"]:
            raise bad_request(
                f"event {req.params['ticker']} not found in series {req.params['series_ticker']}"
            )
        start, end, period = self._candle_args(req)
        tickers = list(event.markets)
        adjusted_end = start + ((end - start) // (period * 60)) * period * 60
        return {
            "market_tickers": tickers,
            "market_candlesticks": [self.exchange.candlesticks(t, start, end, period) for t in tickers],
            "adjusted_end_ts": adjusted_end,
        }

    def get_multivariate_events(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=200) or 100
        series_ticker = req.q("series_ticker")
        if req.q("collection_ticker") and series_ticker:
            raise bad_request("series_ticker and collection_ticker cannot be combined")
        nested = req.q_bool("with_nested_markets")
        tickers = [
            t
            for t in sorted(self.state.multivariate_events)
            if t in self.exchange.events
            and (not series_ticker or self.exchange.events[t].series_ticker == series_ticker)
        ]
        page, cursor = paginate(tickers, lambda t: [t], limit, req.q("cursor"))
        return {"events": [self._event_json(t, nested) for t in page], "cursor": cursor}

    # -- search ----------------------------------------------------------------------------------------------

    def get_tags_by_categories(self, req: Request) -> dict[str, Any]:
        out: dict[str, list[str]] = {}
        for s in self.exchange.series.values():
            tags = out.setdefault(s.category, [])
            tags.extend(t for t in s.tags if t not in tags)
        return {"tags_by_categories": {k: sorted(v) for k, v in sorted(out.items())}}

    def get_filters_by_sport(self, req: Request) -> dict[str, Any]:
        sports = dict(self.state.sports)
        return {"filters_by_sports": sports, "sport_ordering": sorted(sports)}

    # -- incentives, structured targets, milestones ----------------------------------------------------------

    def get_incentive_programs(self, req: Request) -> dict[str, Any]:
        status = req.q("status") or "all"
        if status not in ("all", "active", "upcoming", "closed", "paid_out"):
            raise bad_request("status must be all, active, upcoming, closed or paid_out")
        kind = req.q("type") or "all"
        if kind not in ("all", "liquidity", "volume"):
            raise bad_request("type must be all, liquidity or volume")
        limit = req.q_int("limit", 100, lo=1, hi=10000) or 100
        now = self.exchange.now

        def status_of(p: IncentiveProgram) -> str:
            if p.paid_out:
                return "paid_out"
            if now < p.start_date:
                return "upcoming"
            return "active" if now < p.end_date else "closed"

        programs = [
            p
            for p in self.state.incentive_programs
            if (status == "all" or status_of(p) == status) and (kind == "all" or p.incentive_type == kind)
        ]
        page, cursor = paginate(programs, lambda p: [p.id], limit, req.q("cursor"))
        out: dict[str, Any] = {
            "incentive_programs": [incentive_json(p, self._market_id(p.market_ticker)) for p in page]
        }
        if cursor:
            out["next_cursor"] = cursor
        return out

    def _market_id(self, ticker: str) -> str:
        market = self.exchange.markets.get(ticker)
        return str(getattr(market, "market_id", "") or ticker)

    def get_structured_targets(self, req: Request) -> dict[str, Any]:
        ids = set(req.q_list("ids"))
        kind, competition = req.q("type"), req.q("competition")
        page_size = req.q_int("page_size", 100, lo=1, hi=2000) or 100
        targets = [
            t
            for t in self.state.structured_targets.values()
            if (not ids or t.id in ids)
            and (not kind or t.type == kind)
            and (not competition or t.competition == competition)
        ]
        page, cursor = paginate(targets, lambda t: [t.id], page_size, req.q("cursor"))
        return {"structured_targets": [structured_target_json(t) for t in page], "cursor": cursor}

    def get_structured_target(self, req: Request) -> dict[str, Any]:
        target = self.state.structured_targets.get(req.params["structured_target_id"])
        if target is None:
            raise not_found(f"structured target {req.params['structured_target_id']} not found")
        return {"structured_target": structured_target_json(target)}

    def get_milestones(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", None, lo=1, hi=500)
        if limit is None:
            raise bad_request("limit is required")
        category, competition, kind = req.q("category"), req.q("competition"), req.q("type")
        related = req.q("related_event_ticker")
        milestones = [
            m
            for m in self.state.milestones.values()
            if (not category or m.category == category)
            and (not competition or m.competition == competition)
            and (not kind or m.type == kind)
            and (not related or related in m.related_event_tickers or related in m.primary_event_tickers)
        ]
        page, cursor = paginate(milestones, lambda m: [_ts(m.start_date), m.id], limit, req.q("cursor"))
        return {"milestones": [milestone_json(m) for m in page], "cursor": cursor}

    def get_milestone(self, req: Request) -> dict[str, Any]:
        milestone = self.state.milestones.get(req.params["milestone_id"])
        if milestone is None:
            raise not_found(f"milestone {req.params['milestone_id']} not found")
        return {"milestone": milestone_json(milestone)}

    # -- live data -------------------------------------------------------------------------------------------

    def _live(self, milestone_id: str) -> LiveData:
        data = self.state.live_data.get(milestone_id)
        if data is None:
            raise not_found(f"no live data for milestone {milestone_id}")
        return data

    def get_event_live_data(self, req: Request) -> dict[str, Any]:
        event_ticker = req.params["event_ticker"]
        milestone = self.state.milestone_of_event(event_ticker)
        if milestone is None or milestone.id not in self.state.live_data:
            raise not_found(f"no live data for event {event_ticker}")
        data = self.state.live_data[milestone.id]
        return {"live_data": {"type": data.type, "details": dict(data.details), "is_historical": False}}

    def get_game_stats(self, req: Request) -> dict[str, Any]:
        data = self._live(req.params["milestone_id"])
        return {"pbp": {"periods": [dict(p) for p in data.periods]}}

    def get_live_data(self, req: Request) -> dict[str, Any]:
        data = self._live(req.params["milestone_id"])
        if data.type != req.params["type"]:
            raise not_found(f"no {req.params['type']} live data for milestone {data.milestone_id}")
        return {"live_data": live_json(data)}

    def get_live_data_by_milestone(self, req: Request) -> dict[str, Any]:
        return {"live_data": live_json(self._live(req.params["milestone_id"]))}

    def get_live_data_batch(self, req: Request) -> dict[str, Any]:
        ids = req.q_list("milestone_ids")
        found = [self.state.live_data[i] for i in ids if i in self.state.live_data]
        return {"live_datas": [live_json(d) for d in found]}

    def get_weather(self, req: Request) -> dict[str, Any]:
        city = req.params["city"].upper()
        if city not in WEATHER_CITIES:
            raise bad_request(
                f"unknown city {req.params['city']}; known: {', '.join(sorted(WEATHER_CITIES))}"
            )
        end = int(self.exchange.now.timestamp())
        last = req.q_int("last_sec", 3600, lo=60, hi=7 * 86400) or 3600
        start = req.q_int("from", end - last) or end - last
        stop = req.q_int("to", end) or end
        if stop < start:
            raise bad_request("to must not be before from")
        points = []
        for t in range(start - start % 300, stop + 1, 300):
            # a smooth, deterministic daily temperature curve (°F) per city
            base = 55 + 10 * (sorted(WEATHER_CITIES).index(city) - 2)
            value = round(base + 12 * math.sin((t % 86400) / 86400 * 2 * math.pi), 1)
            points.append({"t": t, "v": value, "status": "final", "contributors": 3})
        return {"city": city, "units": "F", "timeseries": points}

    # -- API keys --------------------------------------------------------------------------------------------

    @staticmethod
    def _key_args(body: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("name is required")
        scopes = body.get("scopes", ["read", "write"])
        if not isinstance(scopes, list) or not scopes or any(s not in API_KEY_SCOPES for s in scopes):
            raise bad_request(f"scopes must be a non-empty list of {', '.join(API_KEY_SCOPES)}")
        sub = body.get("subaccount")
        if sub is not None and (not isinstance(sub, int) or isinstance(sub, bool) or not 0 <= sub <= 63):
            raise bad_request("subaccount must be an integer between 0 and 63")
        return name.strip(), tuple(scopes)

    def create_api_key(self, req: Request) -> Response:
        body = req.json()
        name, scopes = self._key_args(body)
        public_key = body.get("public_key")
        if not isinstance(public_key, str) or not public_key.strip():
            raise bad_request("public_key is required")
        try:
            key = self.registry.add(public_key, user_id=req.user, scopes=scopes, name=name)
        except ValueError as exc:
            raise bad_request(f"public_key is not a usable RSA or Ed25519 public key: {exc}") from None
        return Response(201, {"api_key_id": key.key_id})

    def generate_api_key(self, req: Request) -> Response:
        name, scopes = self._key_args(req.json())
        private_pem, public_pem = generate_rsa_key_pair()
        key = self.registry.add(public_pem, user_id=req.user, scopes=scopes, name=name)
        return Response(201, {"api_key_id": key.key_id, "private_key": private_pem.decode()})

    def delete_api_key(self, req: Request) -> Response:
        key_id = req.params["api_key"]
        key = self.registry.get(key_id)
        if key is None or key.user_id != req.user:
            raise not_found(f"api key {key_id} not found")
        self.registry.remove(key_id)
        return Response(204)

    def routes(self) -> list[Route]:
        """This module's routes; they go before the generic /events/{event_ticker} routes."""
        r = route
        return [
            r("GET", "/series/fee_changes", self.get_series_fee_changes),
            r("GET", "/events/fee_changes", self.get_event_fee_changes),
            r("GET", "/events/multivariate", self.get_multivariate_events),
            r("GET", "/events/{event_ticker}/metadata", self.get_event_metadata),
            r("GET", "/series/{series_ticker}/events/{ticker}/candlesticks", self.get_event_candlesticks),
            r("GET", "/search/tags_by_categories", self.get_tags_by_categories),
            r("GET", "/search/filters_by_sport", self.get_filters_by_sport),
            r("GET", "/incentive_programs", self.get_incentive_programs),
            r("GET", "/structured_targets", self.get_structured_targets),
            r("GET", "/structured_targets/{structured_target_id}", self.get_structured_target),
            r("GET", "/milestones", self.get_milestones),
            r("GET", "/milestones/{milestone_id}", self.get_milestone),
            r("GET", "/live_data/events/{event_ticker}", self.get_event_live_data),
            r("GET", "/live_data/batch", self.get_live_data_batch),
            r("GET", "/live_data/weather/{city}", self.get_weather),
            r("GET", "/live_data/milestone/{milestone_id}/game_stats", self.get_game_stats),
            r("GET", "/live_data/milestone/{milestone_id}", self.get_live_data_by_milestone),
            r("GET", "/live_data/{type}/milestone/{milestone_id}", self.get_live_data),
            r("POST", "/api_keys", self.create_api_key, auth=True, kind="write"),
            r("POST", "/api_keys/generate", self.generate_api_key, auth=True, kind="write"),
            r("DELETE", "/api_keys/{api_key}", self.delete_api_key, auth=True, kind="write"),
        ]
