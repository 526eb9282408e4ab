"""The /_sim/ test switches (loopback clients only): faults, clock advance, closing and settling markets."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from typing import Any, Protocol

from kalshiweb.simulator.api import ApiError, Request, Response, bad_request, not_found
from kalshiweb.simulator.engine import Exchange, ExchangeError
from kalshiweb.simulator.faults import Faults
from kalshiweb.simulator.handlers.common import EngineHandlers
from kalshiweb.simulator.handlers.history import history_switch


class SimHost(Protocol):
    """What the switches act on besides the engine (`server.SimulatorApp` is one)."""

    faults: Faults
    time_offset: timedelta

    def now(self) -> datetime: ...
    def sim_state(self) -> dict[str, Any]: ...


class SimHandlers(EngineHandlers):
    def __init__(self, exchange: Exchange, host: SimHost) -> None:
        super().__init__(exchange)
        self.host = host

    def handle(self, req: Request) -> Response:
        try:
            loopback = ipaddress.ip_address(req.client_host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ApiError(403, "forbidden", "simulator controls are loopback-only", req.client_host)
        path = req.path
        if req.method == "GET" and path == "/_sim/state":
            return Response(200, self.host.sim_state())
        if req.method != "POST":
            raise ApiError(405, "method_not_allowed", "method not allowed", path)
        data: dict[str, Any] = {}
        if req.body:
            data = req.json()

        def arg(name: str, default: Any = None) -> Any:
            if name in data:
                return data[name]
            return req.q(name) if req.q(name) is not None else default

        if path == "/_sim/faults/drop_connections":
            return Response(200, {"dropped": self.host.faults.drop_connections()})
        if path == "/_sim/faults/skip_seq":
            return Response(200, {"sids": self.host.faults.skip_seq(int(arg("count", 1)))})
        if path == "/_sim/faults/silence":
            on = str(arg("on", "true")).lower() in ("true", "1")
            self.host.faults.silence(on)
            return Response(200, self.host.faults.state())
        if path == "/_sim/faults/fail_next":
            try:
                self.host.faults.fail_next(
                    int(arg("n", 1)),
                    str(arg("mode", "500")),
                    arg("path_prefix"),
                    float(arg("hang_seconds", 30.0)),
                )
            except ValueError as exc:
                raise bad_request(str(exc)) from None
            return Response(200, self.host.faults.state())
        if path == "/_sim/faults/latency":
            self.host.faults.latency(float(arg("seconds", 0)))
            return Response(200, self.host.faults.state())
        if path == "/_sim/faults/clock_skew":
            self.host.faults.clock_skew(float(arg("seconds", 0)))
            return Response(200, self.host.faults.state())
        if path == "/_sim/faults/reset":
            self.host.faults.reset()
            return Response(200, self.host.faults.state())
        if path == "/_sim/advance":
            seconds = float(arg("seconds", 0))
            if seconds < 0:
                raise bad_request("seconds must be >= 0")
            self.host.time_offset += timedelta(seconds=seconds)
            self.exchange.advance(self.host.now())
            return Response(200, {"now": self.host.now().isoformat()})
        # historical cutoff and cash moves (issue #15: history)
        switched = history_switch(self.exchange, getattr(self.host, "registry", None), path, arg)
        if switched is not None:
            return Response(200, switched)
        m = re.fullmatch(r"/_sim/markets/(?P<ticker>[^/]+)/(?P<action>close|settle)", path)
        if m:
            ticker = m["ticker"]
            self._market(ticker)
            try:
                if m["action"] == "close":
                    self.exchange.close_market(ticker)
                else:
                    self.exchange.settle_market(ticker, str(arg("result", "yes")))
            except ExchangeError as exc:
                raise ApiError(exc.http_status, exc.code, exc.message, exc.details) from None
            return Response(200, {"market": self.market_json(ticker)})
        raise not_found(path)
