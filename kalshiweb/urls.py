from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from kalshiweb import ops, views
from kalshiweb.graphql.tokens import api_tokens
from kalshiweb.graphql.views import graphql_view
from trading import twofactor

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/2fa/", twofactor.verify_view, name="two_factor_verify"),
    path("account/two-factor/", twofactor.setup_view, name="two_factor_setup"),
    path("account/api-tokens/", api_tokens, name="api_tokens"),
    path("graphql/", graphql_view, name="graphql"),
    path("markets/", include("markets.urls")),
    path("orders/", include("trading.urls")),
    path("portfolio/", include("portfolio.urls")),
    path("admin/", admin.site.urls),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
]
