from __future__ import annotations

import os

from django.core.asgi import get_asgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kalshiweb.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from kalshiweb.graphql.views import with_api_socket  # noqa: E402
from kalshiweb.heap import freeze_startup_heap  # noqa: E402
from markets.consumers import ExposeServerSend  # noqa: E402
from markets.routing import websocket_urlpatterns as market_ws  # noqa: E402
from trading.twofactor import TwoFactorSocketGate  # noqa: E402

websocket_urlpatterns = [*market_ws]

# A self-hosted desk must work offline with no front proxy: ServeStatic's middleware (settings.MIDDLEWARE)
# serves the vendored htmx, CSS and JS unless KALSHIWEB_SERVE_STATIC=false (then a proxy serves STATIC_ROOT).
http_app = django_asgi_app

application = ProtocolTypeRouter(
    {
        "http": http_app,
        # ExposeServerSend: the market socket's frames skip the send wrappers (see markets/consumers.py).
        # /graphql/ (the API's subscriptions) is routed by with_api_socket: it makes its own origin check.
        "websocket": ExposeServerSend(
            with_api_socket(
                AllowedHostsOriginValidator(
                    AuthMiddlewareStack(TwoFactorSocketGate(URLRouter(websocket_urlpatterns)))
                )
            )
        ),
    }
)

# The URLconf and the views' modules it imports load now rather than on the first request; then everything the
# process has loaded, which lives as long as it does, is moved out of the garbage collector's way
# (kalshiweb/heap.py: a full collection stopped the process for ~140 ms, ~13 ms after).
get_resolver().url_patterns  # noqa: B018
freeze_startup_heap()
