"""The simulator's HTTP vocabulary: the request a handler sees, the response it returns, API errors and
the route table's entries. No engine knowledge here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

API_PREFIX = "/trade-api/v2"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def bad_request(details: str, code: str = "invalid_parameters") -> ApiError:
    return ApiError(400, code, "invalid parameters" if code == "invalid_parameters" else code, details)


def not_found(details: str) -> ApiError:
    return ApiError(404, "not_found", "not found", details)


@dataclass
class Request:
    method: str
    path: str  # relative to /trade-api/v2
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    client_host: str
    params: dict[str, str] = field(default_factory=dict)
    user_id: str | None = None
    api_key_id: str | None = None

    # -- query helpers --------------------------------------------------------------------------------------

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        if not values:
            return None
        return values[-1]

    def q_list(self, name: str) -> list[str]:
        out: list[str] = []
        for value in self.query.get(name, []):
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out

    def q_int(
        self, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise bad_request(f"{name} must be an integer") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise bad_request(f"{name} must be between {lo} and {hi}")
        return value

    def q_bool(self, name: str, default: bool = False) -> bool:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise bad_request(f"{name} must be a boolean")

    def json(self) -> dict[str, Any]:
        if not self.body:
            raise bad_request("request body required")
        try:
            data = json.loads(self.body)
        except ValueError:
            raise bad_request("malformed JSON body") from None
        if not isinstance(data, dict):
            raise bad_request("JSON body must be an object")
        return data

    @property
    def user(self) -> str:
        assert self.user_id is not None
        return self.user_id


Handler = Callable[[Request], Any]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool
    kind: str  # read | write
    cost: Callable[[Request], int] | None = None


class Response:
    def __init__(self, status: int, body: Any = None) -> None:
        self.status = status
        self.body = body


def route(
    method: str,
    path: str,
    handler: Handler,
    *,
    auth: bool = False,
    kind: str = "read",
    cost: Callable[[Request], int] | None = None,
) -> Route:
    """A route for `path` relative to API_PREFIX; `{name}` segments become `req.params[name]`."""
    pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path))
    return Route(method, pattern, handler, auth, kind, cost)


def match_route(routes: list[Route], req: Request) -> Route:
    """The route for `req` (its params filled in); 405 if only the method is wrong, 404 if nothing matches."""
    path_known = False
    for route in routes:
        m = route.pattern.fullmatch(req.path)
        if m is None:
            continue
        path_known = True
        if route.method == req.method:
            req.params = m.groupdict()
            return route
    if path_known:
        raise ApiError(405, "method_not_allowed", "method not allowed", f"{req.method} {req.path}")
    raise not_found(f"no route for {API_PREFIX}{req.path}")
