"""The simulator checked against Kalshi's official OpenAPI and AsyncAPI files (tests/fixtures/kalshi-spec/).

``ConformanceApp`` wraps the simulator's ASGI app and watches what it sends: every REST response under
``/trade-api/v2`` is matched to its OpenAPI operation (path template + method) and validated against the
schema the spec gives for that status; every WebSocket text frame is matched by its ``type`` to the AsyncAPI
message(s) of that type and validated against the payload schema. Nothing is changed or delayed beyond the
validation itself; a mismatch is recorded on the ``Checker`` as a ``Violation`` (tests/spec/plugin.py turns
those into test failures).

Validators are built once per (operation, status) and per message type and kept for the process. Each check
runs a compiled Rust validator (``jsonschema-rs``: ~100x faster than the Python ones, which matters because the
check runs on the simulator's loop for every response and message of the suite); only when it fails do the
Python validators (``openapi-schema-validator`` for OpenAPI 3.0, ``jsonschema`` for AsyncAPI) run to explain
the failure. OpenAPI 3.0's ``nullable`` becomes ``"null"`` in ``type`` for the Rust one, as the OpenAPI 3.0
validator reads it (a ``nullable`` beside ``$ref``/``allOf`` and without ``type`` allows nothing more).
Deliberate deviations of the simulator from the spec are listed in ``ALLOWED`` with the reason.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

SPEC_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "kalshi-spec"
OPENAPI_FILE = SPEC_DIR / "openapi-3.28.0.assembled.yaml"
ASYNCAPI_FILE = SPEC_DIR / "asyncapi-2.0.0.yaml"
API_PREFIX = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"
METHODS = ("get", "put", "post", "delete", "patch")

# Error statuses any operation may answer although the spec lists them only on some operations. Their bodies
# are still checked against the spec's ErrorResponse schema.
GENERIC_ERROR_STATUSES = {
    400: "malformed query parameters or body (not every operation lists 400)",
    401: "a public GET that carries a bad signature is refused (server.py docstring: if signed, it must be valid)",
    403: "a key without the write scope calling a write operation",
    404: "an unknown path, or an unknown order / market / event / series id",
    405: "a known path with a method it does not have",
    409: "duplicate client_order_id (server.py docstring)",
    429: "rate limits apply to every operation (Kalshi's rate-limit docs; the spec lists 429 on one operation)",
    500: "the simulator's injected-failure fault (/_sim/faults/fail_next) and unhandled errors",
}

# (METHOD, path template) of simulator routes that are not operations of the spec, with the reason.
ALLOWED_UNDOCUMENTED = {
    (
        "DELETE",
        "/portfolio/events/orders",
    ): "Kalshi's cancel-all (204): in the official SDK 3.34, newer than this 3.28 spec",
    (
        "POST",
        "/portfolio/orders",
    ): "retired V1 write: always 400 deprecated_v1_order_endpoint (server.py docstring)",
    ("POST", "/portfolio/orders/batched"): "retired V1 write (server.py docstring)",
    ("DELETE", "/portfolio/orders/batched"): "retired V1 write (server.py docstring)",
    ("DELETE", "/portfolio/orders/{order_id}"): "retired V1 write (server.py docstring)",
    ("POST", "/portfolio/orders/{order_id}/amend"): "retired V1 write (server.py docstring)",
    ("POST", "/portfolio/orders/{order_id}/decrease"): "retired V1 write (server.py docstring)",
}

# (operationId, status) whose body the simulator deliberately gives the common ErrorResponse shape instead of
# the schema the spec declares, with the reason. The body is still checked against ErrorResponse.
ERROR_BODY_INSTEAD = {
    ("GetExchangeStatus", 500): "the injected-failure fault answers 500 with the common error body on every "
    "path; the spec gives this 500 the ExchangeStatus shape, which a client must not rely on for a 5xx",
}


@dataclass(frozen=True)
class Violation:
    where: str  # "GET /markets/{ticker} (GetMarket)" or "ws message 'ticker'"
    path: str
    status: int | None
    error: str
    test: str = ""

    def __str__(self) -> str:
        status = f" -> {self.status}" if self.status is not None else ""
        test = f" [during {self.test}]" if self.test else ""
        return f"{self.where}: {self.path}{status}: {self.error}{test}"


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    operation_id: str
    responses: dict[str, Any]
    literal_segments: int


def _load_yaml(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as f:
        data = yaml.load(f, Loader=loader)  # a safe loader (libyaml when available)
    assert isinstance(data, dict)
    return data


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{\w+\})", template)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(regex)


def _draft7(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema draft 7: ``nullable: true`` adds "null" to the node's own ``type``."""
    if isinstance(node, list):
        return [_draft7(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _draft7(v) for k, v in node.items() if not (k == "nullable" and isinstance(v, bool))}
    if node.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


class Validator:
    """A compiled fast validator, and the reference one (built when first needed) that explains its failures."""

    def __init__(self, fast: Any, reference: Callable[[], Any]) -> None:
        self.fast = fast
        self.reference = reference

    def error(self, data: Any) -> str | None:
        if self.fast.is_valid(data):
            return None
        error = best_match(self.reference().iter_errors(data))
        if error is not None:
            return _describe(error)
        first = next(iter(self.fast.iter_errors(data)))
        where = "/".join(str(p) for p in first.instance_path) or "(body)"
        return f"at {where}: {first.message[:300]} (jsonschema-rs only)"


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(body)"
    return f"at {where}: {error.message[:300]}"


class OpenApiSpec:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.components = doc["components"]
        self._draft7_schemas = _draft7(self.components["schemas"])
        ops: list[Operation] = []
        for template, item in doc["paths"].items():
            for method, op in item.items():
                if method not in METHODS:
                    continue
                literal = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
                ops.append(
                    Operation(
                        method.upper(),
                        template,
                        _template_pattern(template),
                        op["operationId"],
                        op.get("responses", {}),
                        literal,
                    )
                )
        # A literal segment beats a parameter: /markets/trades is not /markets/{ticker}.
        self.operations = sorted(ops, key=lambda o: -o.literal_segments)
        self._validators: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()

    def match(self, method: str, path: str) -> tuple[Operation | None, str | None]:
        """The operation for ``method path`` and, when only the path matched, the template it matched."""
        template = None
        for op in self.operations:
            if op.pattern.fullmatch(path):
                if op.method == method:
                    return op, op.template
                template = template or op.template
        return None, template

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            kind, name = node["$ref"].split("/")[-2:]
            node = self.components[kind][name]
        return node

    def _validator(self, schema: dict[str, Any]) -> Validator:
        def reference() -> Any:
            root = {**schema, "components": self.components}
            return OAS30ReadValidator(root, format_checker=oas30_format_checker)

        fast_root = {**_draft7(schema), "components": {"schemas": self._draft7_schemas}}
        return Validator(jsonschema_rs.Draft7Validator(fast_root, validate_formats=True), reference)

    def error_validator(self) -> Validator:
        return self._cached(("ErrorResponse", 0), {"$ref": "#/components/schemas/ErrorResponse"})

    def _cached(self, key: tuple[str, int], schema: dict[str, Any]) -> Validator:
        with self._lock:
            validator = self._validators.get(key)
            if validator is None:
                validator = self._validators[key] = self._validator(schema)
            return validator

    def response_schema(self, op: Operation, status: int) -> tuple[bool, dict[str, Any] | None]:
        """(declared, schema): whether ``status`` is declared for ``op``, and its JSON schema if it has one."""
        response = op.responses.get(str(status)) or op.responses.get(f"{str(status)[0]}XX")
        if response is None:
            response = op.responses.get("default")
            if response is None:
                return False, None
        response = self._resolve(response)
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        return True, schema

    def response_validator(self, op: Operation, status: int) -> tuple[bool, Validator | None]:
        declared, schema = self.response_schema(op, status)
        if schema is None:
            return declared, None
        return declared, self._cached((op.operation_id, status), schema)


# Corrections to the AsyncAPI file where it contradicts itself, applied after loading (the copy stays verbatim).
ASYNCAPI_CORRECTIONS = {
    "marketTicker": (
        {"pattern": "^[A-Z0-9.-]+$"},
        "the file's pattern ^[A-Z0-9-]+$ rejects its own examples (FED-23DEC-T3.00, HIGHNY-22DEC23-B53.5): "
        "Kalshi's tickers have dots",
    ),
    "multivariateMarketLifecyclePayload": (
        {
            "allOf": [
                {
                    "type": "object",
                    "required": ["type", "sid", "msg"],
                    "properties": {
                        "sid": {"$ref": "#/components/schemas/subscriptionId"},
                        "msg": {"$ref": "#/components/schemas/marketLifecycleV2Payload/properties/msg"},
                    },
                },
                {"properties": {"type": {"type": "string", "const": "multivariate_market_lifecycle"}}},
            ]
        },
        "the file's allOf of marketLifecycleV2Payload (type const market_lifecycle_v2) and type const "
        "multivariate_market_lifecycle admits no message, not even its own example: the check keeps the "
        "market lifecycle msg and envelope and pins only the multivariate type",
    ),
}


class AsyncApiSpec:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        schemas = doc["components"]["schemas"]
        for name, (patch, _reason) in ASYNCAPI_CORRECTIONS.items():
            schemas[name] = {**schemas[name], **patch}
        self.by_type: dict[str, list[tuple[str, Validator]]] = {}
        for key, message in doc["components"]["messages"].items():
            payload = message.get("payload", {})
            ref = payload.get("$ref")
            if not ref:
                continue  # control frames (ping/pong) have no JSON payload
            schema = schemas[ref.split("/")[-1]]
            msg_type = _type_const(schema)
            if msg_type is None:
                continue  # client->server commands (no "type")
            root = {"$ref": ref, "components": {"schemas": schemas}}
            validator = Validator(
                jsonschema_rs.Draft7Validator(root, validate_formats=True),
                lambda root=root: Draft7Validator(root, format_checker=Draft7Validator.FORMAT_CHECKER),
            )
            self.by_type.setdefault(msg_type, []).append((key, validator))


def _type_const(schema: dict[str, Any]) -> str | None:
    """The ``type`` a message payload schema pins (directly or in one part of an ``allOf``)."""
    for part in [schema, *schema.get("allOf", [])]:
        const = part.get("properties", {}).get("type", {}).get("const")
        if const is not None:
            return str(const)
    return None


@cache
def openapi() -> OpenApiSpec:
    return OpenApiSpec(_load_yaml(OPENAPI_FILE))


@cache
def asyncapi() -> AsyncApiSpec:
    return AsyncApiSpec(_load_yaml(ASYNCAPI_FILE))


@dataclass
class Checker:
    """Collects violations (thread-safe: the simulator runs on its own thread) and what was covered."""

    violations: list[Violation] = field(default_factory=list)
    operations_seen: set[tuple[str, int]] = field(default_factory=set)  # (operationId, status)
    messages_seen: set[str] = field(default_factory=set)  # AsyncAPI message keys
    current_test: str = ""
    responses_checked: int = 0
    messages_checked: int = 0
    seconds: float = 0.0  # spent checking (on the simulators' threads)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, where: str, path: str, status: int | None, error: str) -> None:
        with self._lock:
            self.violations.append(Violation(where, path, status, error, self.current_test))

    # -- REST -----------------------------------------------------------------------------------------------

    def check_response(self, method: str, full_path: str, status: int, body: bytes) -> None:
        start = time.perf_counter()
        try:
            self._check_response(method, full_path, status, body)
        finally:
            self.seconds += time.perf_counter() - start

    def _check_response(self, method: str, full_path: str, status: int, body: bytes) -> None:
        if not (full_path == API_PREFIX or full_path.startswith(API_PREFIX + "/")):
            return  # /_sim/* test controls are not Kalshi's API
        path = full_path[len(API_PREFIX) :] or "/"
        spec = openapi()
        self.responses_checked += 1
        op, template = spec.match(method, path)
        where = f"{method} {op.template} ({op.operation_id})" if op else f"{method} {template or path}"
        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except ValueError as exc:
                self._record(where, path, status, f"body is not JSON: {exc}")
                return
        if op is None:
            if status >= 400 and status in GENERIC_ERROR_STATUSES:
                self._validate(spec.error_validator(), data, where, path, status)
                return
            if template is None and status == 404:
                self._validate(spec.error_validator(), data, where, path, status)
                return
            if (method, template) in ALLOWED_UNDOCUMENTED or self._allowed_route(method, path):
                return
            self._record(where, path, status, "no such operation in the OpenAPI spec")
            return
        declared, validator = spec.response_validator(op, status)
        if (op.operation_id, status) in ERROR_BODY_INSTEAD:
            validator = spec.error_validator()
        with self._lock:
            self.operations_seen.add((op.operation_id, status))
        if not declared:
            if status >= 400 and status in GENERIC_ERROR_STATUSES:
                self._validate(spec.error_validator(), data, where, path, status)
                return
            declared_statuses = ", ".join(sorted(op.responses))
            self._record(where, path, status, f"status not declared (declared: {declared_statuses})")
            return
        if validator is None and status >= 400:
            # Some operations declare an error status without a body schema: hold it to the common one.
            validator = spec.error_validator()
        if validator is None:
            if body:
                self._record(where, path, status, "the spec declares no body for this status")
            return
        if data is None:
            self._record(where, path, status, "empty body where the spec declares one")
            return
        self._validate(validator, data, where, path, status)

    @staticmethod
    def _allowed_route(method: str, path: str) -> bool:
        return any(m == method and _template_pattern(t).fullmatch(path) for m, t in ALLOWED_UNDOCUMENTED)

    def _validate(self, validator: Validator, data: Any, where: str, path: str, status: int | None) -> None:
        error = validator.error(data)
        if error is not None:
            self._record(where, path, status, error)

    # -- WebSocket ------------------------------------------------------------------------------------------

    def check_ws_message(self, text: str) -> None:
        start = time.perf_counter()
        try:
            self._check_ws_message(text)
        finally:
            self.seconds += time.perf_counter() - start

    def _check_ws_message(self, text: str) -> None:
        self.messages_checked += 1
        try:
            data = json.loads(text)
        except ValueError as exc:
            self._record("ws message", WS_PATH, None, f"not JSON: {exc}")
            return
        msg_type = data.get("type") if isinstance(data, dict) else None
        where = f"ws message {msg_type!r}"
        candidates = asyncapi().by_type.get(msg_type) if isinstance(msg_type, str) else None
        if not candidates:
            self._record(where, WS_PATH, None, "no AsyncAPI message has this type")
            return
        errors = []
        for key, validator in candidates:
            error = validator.error(data)
            if error is None:
                with self._lock:
                    self.messages_seen.add(key)
                return
            errors.append(f"{key}: {error}")
        self._record(where, WS_PATH, None, "; ".join(errors) + f" — message: {text[:300]}")


Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


BODILESS = frozenset({204, 304})  # statuses HTTP sends without a body (and any response of Content-Length: 0)


class ConformanceApp:
    """An ASGI wrapper that checks what the wrapped simulator app sends (see the module docstring)."""

    def __init__(self, app: Any, checker: Checker) -> None:
        self.app = app
        self.checker = checker

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] == "http":
            send = self._http(scope, send)
        elif scope["type"] == "websocket" and scope.get("path") == WS_PATH:
            send = self._ws(send)
        await self.app(scope, receive, send)

    def _http(self, scope: MutableMapping[str, Any], send: Send) -> Send:
        state: dict[str, Any] = {"status": None, "body": []}

        async def checked(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["bodiless"] = message["status"] in BODILESS or (b"content-length", b"0") in [
                    (k.lower(), v) for k, v in message.get("headers") or []
                ]
                if state["bodiless"]:
                    # a response without a body (204, or Content-Length: 0) may be finished by the server on its
                    # start line, before the (empty) body message
                    # reaches this wrapper; check it now so the client never sees it unchecked
                    self.checker.check_response(
                        scope["method"].upper(), scope["path"], message["status"], b""
                    )
            elif message["type"] == "http.response.body" and not state.get("bodiless"):
                state["body"].append(message.get("body", b""))
                if not message.get("more_body", False):
                    self.checker.check_response(
                        scope["method"].upper(), scope["path"], state["status"], b"".join(state["body"])
                    )
            await send(message)

        return checked

    def _ws(self, send: Send) -> Send:
        async def checked(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "websocket.send" and message.get("text") is not None:
                self.checker.check_ws_message(message["text"])
            await send(message)

        return checked
