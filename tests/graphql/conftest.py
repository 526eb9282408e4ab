"""Helpers for the GraphQL API tests: a token for the trader, documents posted to /graphql/, a market the
ticket will trade (its book and feed health in Redis, as the feed leaves them)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from kalshiweb.models import ApiToken
from markets import live
from markets.models import Market
from tests.trading.orderkit import fresh_market


def post(
    client: Client, document: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"query": document, "variables": variables or {}}
    return client.post("/graphql/", data=json.dumps(body), content_type="application/json", headers=headers)


def gql(document: str, variables: dict[str, Any] | None = None, *, token: str) -> dict[str, Any]:
    response = post(Client(), document, variables, token)
    assert response.status_code == 200, response.content[:500]
    return response.json()


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


def live_market(ticker: str) -> None:
    """What the ticket checks of a market's data: a current book and a connected feed (as the feed stores them)."""
    book = {"bids": [], "asks": [], "stale": False, "ts": time.time() + 120}
    live.client().set(live.book_key(ticker), json.dumps(book))
    live.client().set(live.HEALTH_KEY, json.dumps({"connected": True}))


def tradable_market(sim: Any) -> str:
    """A new simulator market with an empty book, listed in the desk's database, with live data."""
    ticker = fresh_market(sim)
    Market.objects.update_or_create(
        ticker=ticker,
        defaults={
            "title": f"Market {ticker}",
            "status": "active",
            "close_time": timezone.now() + timedelta(days=2),
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        },
    )
    live_market(ticker)
    return ticker


@pytest.fixture
def token(trader: Any) -> str:
    return ApiToken.issue(trader, "test script")[1]


@pytest.fixture
def read_only_token(trader: Any) -> str:
    return ApiToken.issue(trader, "reader", read_only=True)[1]
