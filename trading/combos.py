"""Combos (issue #15, item 9): a trader builds a combo from the exchange's multivariate event collection, asks
for quotes (an RFQ), watches quotes arrive and accepts one.

Each request is a `ComboRequest` row stored before anything is sent. Creating the combo market is safe to
repeat (the same legs give the same market); the RFQ is not, so after a lost answer it is looked up among the
trader's open RFQs on that market before anything is sent again. An accept is claimed by a conditional update
(open → accepting), so a double click or a second tab sends one accept; the row learns the outcome by reading
the quote back. All calls go through `client_for` (the account's shared rate bucket; a subaccount's own).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kalshiweb.kalshi.errors import ExchangeUnavailable, KalshiError, OutcomeUnknown
from trading.clients import client_for
from trading.models import ComboRequest
from trading.services import TradingRefused, check_can_trade

log = logging.getLogger(__name__)
MAX_CONTRACTS = Decimal("10000")
ONE = Decimal(1)


def collection(user: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The collection traders build combos from and its open markets, grouped by event (from our database)."""
    from markets.models import Market

    profile = check_can_trade(user)
    client = client_for(profile.account)  # type: ignore[arg-type]
    page = client.get_collections(status="open")
    if not page.items:
        raise TradingRefused("The exchange offers no combo collection right now.")
    coll = page.items[0]
    events = list(coll.associated_event_tickers)[:30]
    markets = Market.objects.filter(event_id__in=events, status="active").order_by("ticker")[:200]
    groups: dict[str, list[Any]] = {}
    for m in markets:
        groups.setdefault(m.event_id or "", []).append(m)
    return coll, [{"event": e, "markets": ms} for e, ms in sorted(groups.items())]


def request_quote(
    user: Any, collection_ticker: str, legs: list[dict[str, str]], contracts: Decimal
) -> ComboRequest:
    profile = check_can_trade(user)
    account = profile.account
    assert account is not None
    if not 2 <= len(legs) <= 4:
        raise TradingRefused("Pick 2 to 4 markets for a combo.")
    if contracts <= 0 or contracts > MAX_CONTRACTS or contracts != contracts.quantize(Decimal("0.01")):
        raise TradingRefused("Contracts must be a positive number (up to 10,000, two decimals at most).")
    if profile.max_contracts_per_order is not None and contracts > profile.max_contracts_per_order:
        raise TradingRefused(f"Your limit is {profile.max_contracts_per_order} contracts per order.")
    client = client_for(account)
    try:
        combo = client.create_combo_market(
            collection_ticker, [(x["market_ticker"], x["event_ticker"], x["side"]) for x in legs]
        )
    except KalshiError as exc:
        raise TradingRefused(f"The exchange refused this combo: {exc.message or exc}") from None
    row = ComboRequest.objects.create(
        user=user, account=account, market_ticker=combo.market_ticker, legs=legs, contracts=contracts
    )
    try:
        rfq_id = client.create_rfq(combo.market_ticker, contracts)
    except (OutcomeUnknown, ExchangeUnavailable):
        rfq_id = _find_rfq(client, row)
        if rfq_id is None:
            _fail(row, "The request for quote may not have reached the exchange: try again.")
            return row
    except KalshiError as exc:
        _fail(row, f"The exchange refused the request for quote: {exc.message or exc}")
        return row
    ComboRequest.objects.filter(pk=row.pk).update(rfq_id=rfq_id, status=ComboRequest.Status.OPEN)
    row.refresh_from_db()
    return row


def _find_rfq(client: Any, row: ComboRequest) -> str | None:
    try:
        rfqs = client.get_rfqs(user_filter="self", market_ticker=row.market_ticker, status="open").items
    except KalshiError:
        return None
    known = set(ComboRequest.objects.exclude(rfq_id="").values_list("rfq_id", flat=True))
    fresh = [r for r in rfqs if r.id not in known and r.contracts == row.contracts]
    return fresh[0].id if fresh else None


def _fail(row: ComboRequest, message: str) -> None:
    ComboRequest.objects.filter(pk=row.pk).update(status=ComboRequest.Status.FAILED, error=message[:300])
    row.refresh_from_db()


@dataclass(frozen=True)
class QuoteRow:
    """One quote as the trader reads it: what buying YES or NO of the combo costs per contract."""

    id: str
    status: str
    yes_price: Decimal | None  # the trader pays this per YES contract (1 - the quoter's NO bid)
    no_price: Decimal | None
    accepted_side: str | None


def quotes(row: ComboRequest) -> list[QuoteRow]:
    """The quotes on the request's RFQ, cheapest YES first (one GET from the read budget)."""
    if not row.rfq_id:
        return []
    items = client_for(row.account).get_quotes(rfq_id=row.rfq_id).items
    out = [
        QuoteRow(
            q.id,
            q.status,
            ONE - q.no_bid if q.no_bid > 0 else None,
            ONE - q.yes_bid if q.yes_bid > 0 else None,
            q.accepted_side,
        )
        for q in items
    ]
    return sorted(out, key=lambda q: (q.status != "open", q.yes_price or ONE))


def refresh(row: ComboRequest) -> ComboRequest:
    """While accepting: read the accepted quote back and settle the row when it executed or was cancelled."""
    if row.status != ComboRequest.Status.ACCEPTING:
        return row
    try:
        quote = client_for(row.account).get_quote(row.rfq_id, row.accepted_quote_id)
    except KalshiError as exc:
        log.info("combo %s: quote not read (%s)", row.pk, exc)
        return row
    if quote.status == "executed":
        ComboRequest.objects.filter(pk=row.pk, status=row.status).update(status=ComboRequest.Status.EXECUTED)
    elif quote.status == "cancelled":
        ComboRequest.objects.filter(pk=row.pk, status=row.status).update(
            status=ComboRequest.Status.FAILED,
            error=f"not executed: {quote.cancellation_reason or 'cancelled'}",
        )
    row.refresh_from_db()
    return row


def accept(user: Any, row: ComboRequest, quote_id: str, side: str) -> ComboRequest:
    check_can_trade(user)
    if side not in ("yes", "no"):
        raise TradingRefused("Accept YES or NO.")
    claimed = ComboRequest.objects.filter(pk=row.pk, user=user, status=ComboRequest.Status.OPEN).update(
        status=ComboRequest.Status.ACCEPTING, accepted_quote_id=quote_id, accepted_side=side
    )
    row.refresh_from_db()
    if not claimed:
        return row  # accepted already (a double click, another tab) or no longer open
    try:
        client_for(row.account).accept_quote(row.rfq_id, quote_id, side)
    except (OutcomeUnknown, ExchangeUnavailable):
        pass  # `refresh` reads the quote: accepted or not, the quote says so
    except KalshiError as exc:
        ComboRequest.objects.filter(pk=row.pk, status=ComboRequest.Status.ACCEPTING).update(
            status=ComboRequest.Status.OPEN,
            accepted_quote_id="",
            accepted_side="",
            error=str(exc.message or exc)[:300],
        )
        row.refresh_from_db()
        return row
    return refresh(row)


QUOTE_MESSAGES = frozenset({"quote_created", "quote_accepted", "quote_executed"})


def on_comms_message(account_id: int, msg_type: str, msg: Any) -> bool:
    """The feed heard a `communications` message: when it is about a quote on one of this account's requests,
    push the request's panel (fresh quotes read over REST) to the trader's combos pages. True when pushed."""
    from django.template.loader import render_to_string

    from trading.lifecycle import notify_user

    if msg_type not in QUOTE_MESSAGES or not isinstance(msg, dict):
        return False
    rfq_id = msg.get("rfq_id")
    row = ComboRequest.objects.select_related("account").filter(rfq_id=rfq_id, account_id=account_id).first()
    if not rfq_id or row is None:
        return False
    row = refresh(row)
    try:
        found = quotes(row)
    except KalshiError as exc:
        log.info("combo %s: quotes not read for a push (%s)", row.pk, exc)
        return False
    html = render_to_string("trading/_combo_request.html", {"combo": row, "quotes": found, "oob": True})
    notify_user(row.user_id, html, views=("combos",))
    return True
