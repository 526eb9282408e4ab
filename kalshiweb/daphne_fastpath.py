"""Cheaper per-frame writes for daphne's connections: installed by our launcher (`kalshiweb.serve`), nowhere else.

Why: in the fan-out benchmark (docs/benchmarks.md, workload A: 10,000 WebSocket frames/s to 1,000 browsers)
one daphne process saturated its core. A py-spy profile put the largest share of its CPU in the per-frame
write path below our consumer, in two stock behaviours this module changes, for daphne's server only:

1. Twisted's TCP transport never writes in `write()`: it appends to a buffer and registers the socket with
   the reactor (`startWriting`, an epoll modify through asyncio's `add_writer`); on the next loop turn the
   reactor calls `doWrite` (through Twisted's logging-context wrapper), which sends and unregisters the
   socket again (`stopWriting`, another epoll modify). That is two epoll modifications and a reactor
   callback for every frame. `WriteThroughServer.write` sends at once when nothing is buffered — what
   asyncio's own transports do — and hands only what the kernel did not take (a partial write, EAGAIN, or
   an error) to Twisted's stock buffered path, which then behaves exactly as before: it keeps the order
   (while anything is buffered every later write is buffered behind it), pauses a streaming producer past
   `bufferSize`, resumes it when drained, and reports a dead connection from `doWrite` as it always did.
   Cases it does not take over (TLS started on the connection, a pull producer, which Twisted resumes from
   `doWrite`, a connection being closed, half-closed or aborted) use the stock path unchanged.
2. autobahn's `WebSocketProtocol.sendData` formats the arguments of a debug log call for every frame
   (`hltype`/`hlval` colour strings through click) even when debug logging is off and the call is a no-op.
   `_send_data` does the same work — write to the transport, count the octets — without building them, and
   defers to autobahn's own method whenever it would do anything else (sync or chopped sends, a send queue,
   octet logging, debug logging on, a connection not open).

Both patch private internals, so `install()` first checks that Twisted, autobahn, txaio and daphne are the
exact versions this was written and tested for (`WRITTEN_FOR`, the versions the lock file pins); any other
version logs one line and leaves the stock path in place. It then checks that they still have what these
rely on, with the same fallback. KALSHIWEB_DAPHNE_FASTPATH=0 also keeps the stock path
(used by the benchmark to compare both in one run).
"""

from __future__ import annotations

import logging
from importlib import metadata
from typing import Any

from twisted.internet import abstract, tcp

from kalshiweb.env import envbool

log = logging.getLogger(__name__)

_FD_ATTRIBUTES = (
    "dataBuffer",
    "offset",
    "_tempDataBuffer",
    "_tempDataLen",
    "_writeDisconnecting",
    "_writeDisconnected",
    "disconnecting",
    "connected",
    "producer",
    "streamingProducer",
    "SEND_LIMIT",
)


_NO_REACTOR: Any = object()

# The exact versions the patches were written and tested for; requirements*.txt pins the same ones.
WRITTEN_FOR = {"twisted": "26.10.0", "autobahn": "26.11.1", "txaio": "26.6.1", "daphne": "4.2.3"}


def _installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _check_versions() -> str | None:
    found = {name: _installed_version(name) for name in WRITTEN_FOR}
    other = [
        f"{name} {found[name]} (written for {want})"
        for name, want in WRITTEN_FOR.items()
        if found[name] != want
    ]
    return ", ".join(other) or None


class WriteThroughServer(tcp.Server):
    """Twisted's server-side TCP connection, writing on the socket at once when nothing is buffered."""

    def write(self, data: bytes) -> None:
        if (
            self.TLS
            or not self.connected
            or self.disconnecting
            or self._writeDisconnecting
            or self._writeDisconnected
            or self._aborting
            or self._tempDataLen
            or self.offset < len(self.dataBuffer)
            or (self.producer is not None and not self.streamingProducer)
            or not isinstance(data, bytes)
            or not data
        ):
            super().write(data)  # stock: buffer, register with the reactor, write on the next loop turn
            return
        limit = self.SEND_LIMIT
        try:
            sent = self.socket.send(data if len(data) <= limit else memoryview(data)[:limit])
        except OSError:
            # EAGAIN/EINTR, or the connection is gone: the stock path buffers it and its doWrite retries, or
            # meets the same error and closes the connection the way Twisted always does.
            sent = 0
        if sent < len(data):
            super().write(data[sent:] if sent else data)


def _stock_send_data() -> Any:
    from autobahn.websocket.protocol import WebSocketProtocol

    return WebSocketProtocol.sendData


def _make_send_data(stock: Any, state_open: int, no_op: Any) -> Any:
    def _send_data(self: Any, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        if (
            sync
            or chopsize
            or self.send_queue
            or self.logOctets
            or self.state != state_open
            or self.log.debug is not no_op
        ):
            stock(self, data, sync, chopsize)
            return
        self.transport.write(data)
        self.trafficStats.outgoingOctetsWireLevel += len(data)

    _send_data.__doc__ = "autobahn's sendData without formatting the arguments of a disabled debug log call."
    return _send_data


def _check_twisted() -> str | None:
    probe = abstract.FileDescriptor(reactor=_NO_REACTOR)  # some of them are set by __init__
    missing = [name for name in _FD_ATTRIBUTES if not hasattr(probe, name)]
    if missing:
        return f"twisted FileDescriptor lacks {', '.join(missing)}"
    if not hasattr(tcp.Connection, "_aborting") or not hasattr(tcp.Server, "TLS"):
        return "twisted tcp.Connection lacks _aborting/TLS"
    if tcp.Port.transport is not tcp.Server:
        return f"tcp.Port.transport is {tcp.Port.transport!r}, not tcp.Server"
    return None


def _check_autobahn() -> tuple[str | None, Any, int, Any]:
    try:
        import txaio.tx
        from autobahn.websocket.protocol import WebSocketProtocol
        from daphne.ws_protocol import WebSocketProtocol as DaphneWebSocketProtocol
    except ImportError as exc:
        return f"cannot import autobahn/daphne/txaio: {exc}", None, 0, None
    no_op = getattr(txaio.tx, "_no_op", None)
    if no_op is None:
        return "txaio.tx has no _no_op", None, 0, None
    if "sendData" in DaphneWebSocketProtocol.__dict__:
        return "daphne's WebSocketProtocol defines its own sendData", None, 0, None
    state_open = getattr(WebSocketProtocol, "STATE_OPEN", None)
    if not isinstance(state_open, int):
        return "autobahn WebSocketProtocol has no STATE_OPEN", None, 0, None
    return None, DaphneWebSocketProtocol, state_open, no_op


_installed: list[str] = []


def install() -> list[str]:
    """Install what this version of Twisted/autobahn supports; return the names installed (for logs/tests)."""
    if _installed:
        return list(_installed)
    if not envbool("KALSHIWEB_DAPHNE_FASTPATH", True):
        log.info(
            "daphne fast path off (KALSHIWEB_DAPHNE_FASTPATH): Twisted's and autobahn's stock write path"
        )
        return []
    problem = _check_versions()
    if problem is not None:
        log.warning(
            "daphne fast path not installed, other versions than it patches: %s; stock write path", problem
        )
        return []
    problem = _check_twisted()
    if problem is None:
        tcp.Port.transport = WriteThroughServer
        _installed.append("write-through")
    else:
        log.warning("daphne write-through not installed (%s): using Twisted's stock write path", problem)
    problem, daphne_protocol, state_open, no_op = _check_autobahn()
    if problem is None:
        daphne_protocol.sendData = _make_send_data(_stock_send_data(), state_open, no_op)
        _installed.append("send-data")
    else:
        log.warning("autobahn sendData shortcut not installed (%s): using autobahn's stock sendData", problem)
    return list(_installed)


def uninstall() -> None:
    """Undo install() (tests)."""
    if "write-through" in _installed:
        tcp.Port.transport = tcp.Server
    if "send-data" in _installed:
        from daphne.ws_protocol import WebSocketProtocol as DaphneWebSocketProtocol

        del DaphneWebSocketProtocol.sendData
    _installed.clear()
