"""KalshiClient endpoints of issue #15's breadth items: fee changes, event metadata and candlesticks,
multivariate events, search filters, incentive programs, structured targets, milestones, live data and
API-key management. A mixin over the transport so rest.py only lists it among KalshiClient's bases.

API-key writes are never resent blindly (the transport raises ``OutcomeUnknown`` on a timeout); give each
key a unique name and reconcile with ``find_api_key(name=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .errors import ProtocolError
from .models import Event, Market
from .transport import RestTransport, _csv
from .types.discovery import (
    ApiKey,
    EventCandlesticks,
    EventFeeChange,
    EventMetadata,
    GeneratedApiKey,
    IncentiveProgram,
    LiveData,
    Milestone,
    SeriesFeeChange,
    SportsFilters,
    StructuredTarget,
    WeatherIndex,
)
from .types.rest import Page, page_of


def _list(obj: str, data: Any, key: str) -> list[Any]:
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ProtocolError(f"{obj}.{key} must be a list", obj=obj, field=key)
    return items


def _obj(obj: str, data: Any, key: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ProtocolError(f"{obj} is missing required field {key!r}", obj=obj, field=key)
    return data[key]


class DiscoveryEndpoints(RestTransport):
    # --- fees -----------------------------------------------------------------------------------------------

    async def get_series_fee_changes(
        self, *, series_ticker: str | None = None, show_historical: bool = False
    ) -> list[SeriesFeeChange]:
        params = {"series_ticker": series_ticker, "show_historical": "true" if show_historical else None}
        data = await self._get("/series/fee_changes", params)
        return [
            SeriesFeeChange.from_dict(c)
            for c in _list("GetSeriesFeeChangesResponse", data, "series_fee_change_arr")
        ]

    async def get_event_fee_changes(
        self, *, event_ticker: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[EventFeeChange]:
        data = await self._get(
            "/events/fee_changes", {"event_ticker": event_ticker, "limit": limit, "cursor": cursor}
        )
        return page_of("GetEventFeeChangesResponse", "event_fee_changes", data, EventFeeChange.from_dict)

    # --- events ---------------------------------------------------------------------------------------------

    async def get_event_metadata(self, event_ticker: str) -> EventMetadata:
        return EventMetadata.from_dict(await self._get(f"/events/{event_ticker}/metadata"))

    async def get_event_candlesticks(
        self,
        series_ticker: str,
        event_ticker: str,
        *,
        start_ts: int | datetime,
        end_ts: int | datetime,
        period_interval: int = 60,
    ) -> EventCandlesticks:
        data = await self._get(
            f"/series/{series_ticker}/events/{event_ticker}/candlesticks",
            {"start_ts": start_ts, "end_ts": end_ts, "period_interval": period_interval},
        )
        return EventCandlesticks.from_dict(data)

    async def get_multivariate_events(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        series_ticker: str | None = None,
        collection_ticker: str | None = None,
        with_nested_markets: bool = False,
    ) -> tuple[Page[Event], dict[str, list[Market]]]:
        """A page of multivariate events and, with ``with_nested_markets``, their markets by event."""
        params = {
            "limit": limit,
            "cursor": cursor,
            "series_ticker": series_ticker,
            "collection_ticker": collection_ticker,
            "with_nested_markets": "true" if with_nested_markets else None,
        }
        data = await self._get("/events/multivariate", params)
        page = page_of("GetMultivariateEventsResponse", "events", data, Event.from_dict)
        markets = {
            e["event_ticker"]: [Market.from_dict(m) for m in e.get("markets") or []]
            for e in _list("GetMultivariateEventsResponse", data, "events")
            if isinstance(e, dict) and "markets" in e
        }
        return page, markets

    # --- search ---------------------------------------------------------------------------------------------

    async def get_tags_by_categories(self) -> dict[str, list[str]]:
        data = _obj(
            "GetTagsForSeriesCategoriesResponse",
            await self._get("/search/tags_by_categories"),
            "tags_by_categories",
        )
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise ProtocolError(
                "tags_by_categories must map categories to lists",
                obj="GetTagsForSeriesCategoriesResponse",
                field="tags_by_categories",
            )
        return {str(k): [str(t) for t in v] for k, v in data.items()}

    async def get_filters_by_sport(self) -> SportsFilters:
        return SportsFilters.from_dict(await self._get("/search/filters_by_sport"))

    # --- incentives, structured targets, milestones ---------------------------------------------------------

    async def get_incentive_programs(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[IncentiveProgram]:
        data = await self._get(
            "/incentive_programs", {"status": status, "type": type, "limit": limit, "cursor": cursor}
        )
        items = [
            IncentiveProgram.from_dict(p)
            for p in _list("GetIncentiveProgramsResponse", data, "incentive_programs")
        ]
        return Page(tuple(items), data.get("next_cursor") or None)

    async def get_structured_targets(
        self,
        *,
        ids: Sequence[str] | None = None,
        type: str | None = None,
        competition: str | None = None,
        page_size: int | None = None,
        cursor: str | None = None,
    ) -> Page[StructuredTarget]:
        params = {
            "ids": _csv(ids),
            "type": type,
            "competition": competition,
            "page_size": page_size,
            "cursor": cursor,
        }
        data = await self._get("/structured_targets", params)
        items = data.get("structured_targets") or [] if isinstance(data, dict) else []
        return Page(tuple(StructuredTarget.from_dict(t) for t in items), (data or {}).get("cursor") or None)

    async def get_structured_target(self, target_id: str) -> StructuredTarget:
        data = await self._get(f"/structured_targets/{target_id}")
        return StructuredTarget.from_dict(_obj("GetStructuredTargetResponse", data, "structured_target"))

    async def get_milestones(
        self, *, limit: int = 100, cursor: str | None = None, **filters: Any
    ) -> Page[Milestone]:
        data = await self._get("/milestones", {"limit": limit, "cursor": cursor, **filters})
        return page_of(
            "GetMilestonesResponse", "milestones", data, Milestone.from_dict, cursor_required=False
        )

    async def get_milestone(self, milestone_id: str) -> Milestone:
        return Milestone.from_dict(
            _obj("GetMilestoneResponse", await self._get(f"/milestones/{milestone_id}"), "milestone")
        )

    # --- live data ------------------------------------------------------------------------------------------

    async def get_event_live_data(self, event_ticker: str) -> LiveData:
        data = await self._get(f"/live_data/events/{event_ticker}")
        return LiveData.from_dict(_obj("GetEventLiveDataResponse", data, "live_data"))

    async def get_live_data(self, milestone_id: str, *, type: str | None = None) -> LiveData:
        path = (
            f"/live_data/{type}/milestone/{milestone_id}" if type else f"/live_data/milestone/{milestone_id}"
        )
        return LiveData.from_dict(_obj("GetLiveDataResponse", await self._get(path), "live_data"))

    async def get_live_datas(self, milestone_ids: Sequence[str]) -> list[LiveData]:
        data = await self._get("/live_data/batch", {"milestone_ids": _csv(milestone_ids)})
        return [LiveData.from_dict(d) for d in _list("GetLiveDatasResponse", data, "live_datas")]

    async def get_game_stats(self, milestone_id: str) -> list[list[dict[str, Any]]]:
        """Play-by-play: the events of each period."""
        data = await self._get(f"/live_data/milestone/{milestone_id}/game_stats")
        periods = ((data or {}).get("pbp") or {}).get("periods") or []
        return [list(p.get("events") or []) for p in periods if isinstance(p, dict)]

    async def get_weather_index(self, city: str, **params: Any) -> WeatherIndex:
        return WeatherIndex.from_dict(await self._get(f"/live_data/weather/{city}", params))

    # --- API keys -------------------------------------------------------------------------------------------

    async def get_api_keys(self) -> list[ApiKey]:
        data = await self._get("/api_keys", signed=True)
        return [ApiKey.from_dict(k) for k in _list("GetApiKeysResponse", data, "api_keys")]

    async def find_api_key(self, *, name: str) -> ApiKey | None:
        return next((k for k in await self.get_api_keys() if k.name == name), None)

    async def create_api_key(
        self,
        name: str,
        public_key_pem: str,
        *,
        scopes: Sequence[str] = ("read", "write"),
        subaccount: int | None = None,
    ) -> str:
        body: dict[str, Any] = {"name": name, "public_key": public_key_pem, "scopes": list(scopes)}
        if subaccount is not None:
            body["subaccount"] = subaccount
        data = await self._request("POST", "/api_keys", body=body)
        return str(_obj("CreateApiKeyResponse", data, "api_key_id"))

    async def generate_api_key(
        self, name: str, *, scopes: Sequence[str] = ("read", "write"), subaccount: int | None = None
    ) -> GeneratedApiKey:
        body: dict[str, Any] = {"name": name, "scopes": list(scopes)}
        if subaccount is not None:
            body["subaccount"] = subaccount
        return GeneratedApiKey.from_dict(await self._request("POST", "/api_keys/generate", body=body))

    async def delete_api_key(self, api_key_id: str) -> None:
        await self._request("DELETE", f"/api_keys/{api_key_id}")
