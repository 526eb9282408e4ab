from __future__ import annotations

from django.urls import path

from markets.consumers import MarketStreamConsumer

websocket_urlpatterns = [
    path("ws/markets/", MarketStreamConsumer.as_asgi()),
]
