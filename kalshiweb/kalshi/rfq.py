"""The combo and RFQ endpoints of `KalshiClient` (issue #15, item 9), as a mixin over the transport.

Writes are never resent blindly (the transport raises `OutcomeUnknown` after a lost answer). An RFQ or a quote
whose creation answer was lost is found again with `get_rfqs(user_filter="self")` / `get_quotes(...)`; accepting
or confirming a quote twice is refused by the exchange (the quote is no longer open), so reading the quote tells
whether the first call took effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from .errors import ProtocolError
from .transport import RestTransport
from .types.rest import Page, _mapping, page_of
from .types.rfq import Collection, ComboMarket, Quote, Rfq
from .types.scalars import format_count, format_price


def _field(obj: str, data: Any, key: str) -> Any:
    d = _mapping(obj, data)
    if key not in d:
        raise ProtocolError(f"{obj} is missing required field {key!r}", obj=obj, field=key)
    return d[key]


class RfqMixin(RestTransport):
    # -- multivariate event collections ------------------------------------------------------------------

    async def get_collections(self, **filters: Any) -> Page[Collection]:
        data = await self._get("/multivariate_event_collections", filters)
        return page_of(
            "GetMultivariateEventCollectionsResponse",
            "multivariate_contracts",
            data,
            Collection.from_dict,
            cursor_required=False,
        )

    async def get_collection(self, collection_ticker: str) -> Collection:
        data = await self._get(f"/multivariate_event_collections/{collection_ticker}")
        return Collection.from_dict(
            _field("GetMultivariateEventCollectionResponse", data, "multivariate_contract")
        )

    async def create_combo_market(
        self, collection_ticker: str, legs: Sequence[tuple[str, str, str]]
    ) -> ComboMarket:
        """The collection's market for these legs, (market_ticker, event_ticker, side) each; made once by the
        exchange, so calling again with the same legs returns the same market (safe to repeat)."""
        body = {"selected_markets": [{"market_ticker": m, "event_ticker": e, "side": s} for m, e, s in legs]}
        data = await self._request("POST", f"/multivariate_event_collections/{collection_ticker}", body=body)
        return ComboMarket.from_dict(data)

    # -- communications ----------------------------------------------------------------------------------

    async def get_communications_id(self) -> str:
        data = await self._get("/communications/id", signed=True)
        return str(_field("GetCommunicationsIDResponse", data, "communications_id"))

    async def create_rfq(
        self,
        market_ticker: str,
        contracts: Decimal | int,
        *,
        rest_remainder: bool = False,
        target_cost: Decimal | None = None,
        subaccount: int | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "market_ticker": market_ticker,
            "contracts_fp": format_count(contracts),
            "rest_remainder": rest_remainder,
        }
        if target_cost is not None:
            body["target_cost_dollars"] = format_price(target_cost)
        if subaccount is not None:
            body["subaccount"] = subaccount
        data = await self._request("POST", "/communications/rfqs", body=body)
        return str(_field("CreateRFQResponse", data, "id"))

    async def get_rfqs(self, **filters: Any) -> Page[Rfq]:
        data = await self._get("/communications/rfqs", filters, signed=True)
        return page_of("GetRFQsResponse", "rfqs", data, Rfq.from_dict, cursor_required=False)

    async def get_rfq(self, rfq_id: str) -> Rfq:
        data = await self._get(f"/communications/rfqs/{rfq_id}", signed=True)
        return Rfq.from_dict(_field("GetRFQResponse", data, "rfq"))

    async def delete_rfq(self, rfq_id: str) -> None:
        await self._request("DELETE", f"/communications/rfqs/{rfq_id}")

    async def create_quote(
        self, rfq_id: str, *, yes_bid: Decimal, no_bid: Decimal, rest_remainder: bool = False
    ) -> str:
        body = {
            "rfq_id": rfq_id,
            "yes_bid": format_price(yes_bid) if yes_bid else "0.0000",
            "no_bid": format_price(no_bid) if no_bid else "0.0000",
            "rest_remainder": rest_remainder,
        }
        data = await self._request("POST", "/communications/quotes", body=body)
        return str(_field("CreateQuoteResponse", data, "id"))

    async def get_quotes(self, **filters: Any) -> Page[Quote]:
        data = await self._get("/communications/quotes", filters, signed=True)
        return page_of("GetQuotesResponse", "quotes", data, Quote.from_dict, cursor_required=False)

    async def get_quote(self, rfq_id: str, quote_id: str) -> Quote:
        data = await self._get(f"/communications/rfqs/{rfq_id}/quotes/{quote_id}", signed=True)
        return Quote.from_dict(_field("GetQuoteResponse", data, "quote"))

    async def delete_quote(self, rfq_id: str, quote_id: str) -> None:
        await self._request("DELETE", f"/communications/rfqs/{rfq_id}/quotes/{quote_id}")

    async def accept_quote(self, rfq_id: str, quote_id: str, accepted_side: str) -> None:
        """Accept a quote: `accepted_side` is the side the RFQ's creator buys (yes or no)."""
        if accepted_side not in ("yes", "no"):
            raise ValueError("accepted_side must be 'yes' or 'no'")
        await self._request(
            "PUT",
            f"/communications/rfqs/{rfq_id}/quotes/{quote_id}/accept",
            body={"accepted_side": accepted_side},
        )

    async def confirm_quote(self, rfq_id: str, quote_id: str) -> None:
        await self._request("PUT", f"/communications/rfqs/{rfq_id}/quotes/{quote_id}/confirm", body={})
