"""markets.lifecycle_feed: each market_lifecycle_v2 message changes the market row as Kalshi means it, and the
frame pages get carries the new badge and the signal the ticket re-renders on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kalshiweb.kalshi.messages import parse_message
from markets.hub import open_frame
from markets.lifecycle_feed import apply_lifecycle, status_update
from markets.models import Market
from tests.factories import make_market

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def lifecycle(ticker: str, event_type: str, **fields: Any) -> Any:
    return parse_message(
        {
            "type": "market_lifecycle_v2",
            "sid": 1,
            "seq": 1,
            "msg": {"market_ticker": ticker, "event_type": event_type, **fields},
        }
    )


def test_a_market_pauses_resumes_closes_determines_and_settles() -> None:
    market = make_market(status="active", close_time=NOW + timedelta(days=1))
    t = market.ticker
    assert apply_lifecycle(lifecycle(t, "deactivated", is_deactivated=True), NOW).status == "inactive"
    assert apply_lifecycle(lifecycle(t, "activated", is_deactivated=False), NOW).status == "active"
    later = int((NOW + timedelta(days=2)).timestamp())
    moved = apply_lifecycle(lifecycle(t, "close_date_updated", close_ts=later), NOW)
    assert (moved.status, moved.close_time) == ("active", NOW + timedelta(days=2))
    closed = apply_lifecycle(lifecycle(t, "close_date_updated", close_ts=int(NOW.timestamp()) - 5), NOW)
    assert closed.status == "closed" and not closed.is_open
    determined = apply_lifecycle(
        lifecycle(
            t, "determined", determination_ts=int(NOW.timestamp()), result="yes", settlement_value="1.0000"
        ),
        NOW,
    )
    assert (determined.status, determined.result) == ("determined", "yes")
    assert (
        apply_lifecycle(lifecycle(t, "settled", settled_ts=int(NOW.timestamp())), NOW).status == "finalized"
    )
    # an activation does not reopen a settled market; nothing changes, nothing is published
    assert apply_lifecycle(lifecycle(t, "activated", is_deactivated=False), NOW) is None
    assert Market.objects.get(ticker=t).status == "finalized"


def test_a_message_about_a_market_we_do_not_list_is_ignored() -> None:
    assert apply_lifecycle(lifecycle("KXNOPE-1", "settled", settled_ts=1), NOW) is None


def test_the_status_frame_is_signed_and_swaps_the_badge_and_signals_the_ticket() -> None:
    market = make_market(status="determined", result="no")
    update = status_update(market)
    assert 'id="market-status-' in update["detail"] and 'hx-swap-oob="true"' in update["detail"]
    assert "Determined · NO" in update["detail"]
    assert (
        'data-event="kw:market-status"' in update["detail"]
        and 'data-event="kw:market-status"' in update["row"]
    )
    from markets.hub import sign_frame

    assert open_frame(market.ticker, sign_frame(market.ticker, json.dumps(update)))["status"] == "determined"
