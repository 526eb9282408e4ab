"""Serving the schema: HTTP at /graphql/ (an API token, or the browser session with its CSRF token) and the
Channels WebSocket at /graphql/ (graphql-transport-ws; the session, or the token in `connection_init`'s payload
as {"Authorization": "Bearer …"}). Each HTTP request counts against the caller's rate limit."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import validate_host
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from strawberry.channels import GraphQLWSConsumer
from strawberry.django.views import GraphQLView
from strawberry.exceptions import ConnectionRejectionError

from kalshiweb.graphql.auth import Actor, actor_for, check_rate
from kalshiweb.graphql.errors import FORBIDDEN, RATE_LIMITED, UNAUTHENTICATED, ApiError, as_payload
from kalshiweb.graphql.schema import schema

MAX_SUBSCRIPTIONS_PER_SOCKET = 20
STATUS = {UNAUTHENTICATED: 401, FORBIDDEN: 403, RATE_LIMITED: 429}


def same_site(scope: dict[str, Any]) -> bool:
    origin = dict(scope.get("headers") or []).get(b"origin")
    if not origin:
        return False
    host = urlparse(origin.decode("latin-1")).hostname
    return bool(host) and validate_host(host, settings.ALLOWED_HOSTS)


def with_api_socket(app: Any) -> Any:
    """The ASGI WebSocket app with /graphql/ in front: the API socket takes scripts (no Origin, a token) as well
    as the desk's pages, so it sits outside the browser sockets' origin check and makes its own (`same_site`)."""
    from channels.auth import AuthMiddlewareStack

    from trading.twofactor import TwoFactorSocketGate

    api = AuthMiddlewareStack(
        TwoFactorSocketGate(
            ApiSocket.as_asgi(schema=schema, max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_SOCKET)
        )
    )

    async def route(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket" and scope.get("path") == "/graphql/":
            return await api(scope, receive, send)
        return await app(scope, receive, send)

    return route


def _refusal(error: ApiError) -> HttpResponse:
    response = JsonResponse(
        as_payload(error.code, error.message, retryable=error.retryable), status=STATUS.get(error.code, 400)
    )
    if error.code == UNAUTHENTICATED:
        response["WWW-Authenticate"] = 'Bearer realm="kalshiweb"'
    return response


def _csrf_refusal(request: HttpRequest) -> ApiError | None:
    """A session's POST must carry its CSRF token (the X-CSRFToken header, as htmx sends it): the same check
    Django's middleware makes, which the view is exempt from only because token callers have no cookie."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    check = CsrfViewMiddleware(lambda r: HttpResponse())
    check.process_request(request)
    refused = check.process_view(request, lambda r: HttpResponse(), (), {})
    if refused is not None:
        return ApiError(FORBIDDEN, "CSRF check failed: send the X-CSRFToken header with the session's token.")
    return None


class ApiView(GraphQLView):
    graphql_ide = None  # no IDE page: it would load its scripts from a CDN
    allow_queries_via_get = False

    def get_context(self, request: HttpRequest, response: HttpResponse) -> dict[str, Any]:  # type: ignore[override]
        return {"request": request, "response": response, "actor": request.kw_actor}  # type: ignore[attr-defined]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            actor = actor_for(getattr(request, "user", None), request.headers.get("Authorization"))
            if actor.token is None:
                refused = _csrf_refusal(request)
                if refused is not None:
                    raise refused
            check_rate(actor)
        except ApiError as exc:
            return _refusal(exc)
        request.kw_actor = actor  # type: ignore[attr-defined]
        return super().dispatch(request, *args, **kwargs)


graphql_view = csrf_exempt(ApiView.as_view(schema=schema))


class ApiSocket(GraphQLWSConsumer):
    """graphql-transport-ws over the Channels WebSocket. The session's user (AuthMiddlewareStack) or the token
    in the connection_init payload; neither, or a bad token: the socket is closed with 4403."""

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:  # type: ignore[override]
        return {"request": request, "ws": request, "actor": getattr(self, "kw_actor", None)}

    async def on_ws_connect(self, context: Any) -> Any:
        params = context.get("connection_params") or {}
        authorization = None
        if isinstance(params, dict):
            value = params.get("Authorization") or params.get("authorization")
            authorization = value if isinstance(value, str) else None
        # The session counts only for a page of this site (its Origin one of ALLOWED_HOSTS): another site's page
        # must not subscribe with the trader's cookie. Scripts send no Origin and use a token.
        user = self.scope.get("user") if same_site(self.scope) else None
        try:
            actor: Actor = await database_sync_to_async(actor_for)(user, authorization)
        except ApiError:
            raise ConnectionRejectionError({"code": UNAUTHENTICATED}) from None
        try:
            await database_sync_to_async(check_rate)(actor)  # each connection counts as a request
        except ApiError:
            raise ConnectionRejectionError({"code": RATE_LIMITED}) from None
        self.kw_actor = actor
        context["actor"] = actor
        return await super().on_ws_connect(context)
