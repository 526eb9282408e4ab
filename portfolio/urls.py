from __future__ import annotations

from django.urls import path

from portfolio import cash_views, resting, views

app_name = "portfolio"
urlpatterns = [
    path("", views.portfolio, name="index"),
    path("live/", views.portfolio_live, name="live"),
    path("resting/", resting.panel, name="resting"),  # resting order value (issue #15 item 7)
    path("holdings/<str:ticker>/", views.holdings, name="holdings"),
    path("fills/", views.fill_history, name="fills"),
    path("fills.csv", views.fills_csv, name="fills_csv"),
    path("settlements/", views.settlement_history, name="settlements"),
    path("staff/exposure/", views.staff_exposure, name="staff_exposure"),
    path("cash/", cash_views.cash_panel, name="cash"),  # issue #15 history
]
