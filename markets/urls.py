from __future__ import annotations

from django.urls import path

from markets import views

app_name = "markets"
urlpatterns = [
    path("", views.market_list, name="list"),
    path("watchlist/", views.watchlist, name="watchlist"),
    path("watchlist/new/", views.watchlist_create, name="watchlist_create"),
    path("watchlist/<int:list_id>/delete/", views.watchlist_delete, name="watchlist_delete"),
    path("feed-status/", views.feed_status, name="feed_status"),
    path("exchange-status/", views.exchange_status, name="exchange_status"),
    path("events/<str:event_ticker>/", views.event_detail, name="event"),
    path("<str:ticker>/", views.market_detail, name="detail"),
    path("<str:ticker>/row/", views.market_row, name="row"),
    path("<str:ticker>/live-game/", views.live_game, name="live_game"),  # issue #15 item 8
    path("<str:ticker>/watch/", views.toggle_watch, name="toggle_watch"),
]
