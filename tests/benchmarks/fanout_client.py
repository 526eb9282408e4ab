"""Load-generator side of the fan-out benchmark: many browser-like WebSocket clients in one process.

Each client is the `websockets` Sans-I/O ClientProtocol driven by a plain asyncio Protocol (no task,
no queue, no future per message), so a thousand sockets at 10-20k frames/s fit on one core with room
to spare. Clients offer no permessage-deflate (see bench_fanout.py). Like a page running live.js,
each client answers the server's ping comments (`<!--kw:ping:N-->` → `{"action":"pong","n":N}`) as
soon as it has read them; the server uses those answers for flow control and closes sockets that stop
answering. The non-reading "browser" is a raw blocking socket with a tiny receive buffer that does
the handshake and then never calls recv() (so it answers nothing).
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field

from fanout_common import FINAL_SEQ, FRAGMENT_RE
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Origin
from websockets.uri import parse_uri

PING_PREFIX = b"<!--kw:ping:"  # markets.consumers.ping_frame (kept literal: no Django import here)


@dataclass
class Stats:
    measuring: bool = False
    frames: int = 0
    fragments: int = 0
    out_of_order: int = 0
    pongs: int = 0  # pings answered (all the time, not only while measuring)
    latencies: list[float] = field(default_factory=list)


class WSClient(asyncio.Protocol):
    def __init__(self, url: str, origin: str, cookie: str | None, stats: Stats) -> None:
        self.proto = ClientProtocol(parse_uri(url), origin=Origin(origin), max_size=2**24)
        self.cookie = cookie
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.last: dict[bytes, int] = {}
        self.partial: list[bytes] = []
        self.closed = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        request = self.proto.connect()
        if self.cookie:
            request.headers["Cookie"] = self.cookie
        self.proto.send_request(request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.proto.receive_data(data)
        for event in self.proto.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    if event.fin:
                        self._on_text(event.data)
                    else:
                        self.partial = [event.data]
                elif event.opcode is Opcode.CONT and self.partial:
                    self.partial.append(event.data)
                    if event.fin:
                        data, self.partial = b"".join(self.partial), []
                        self._on_text(data)
            elif isinstance(event, Response) and not self.opened.done():
                if self.proto.state is State.OPEN:
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(
                        ConnectionError(f"handshake failed: {self.proto.handshake_exc!r} {event.status_code}")
                    )
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost during handshake: {exc!r}"))

    def _flush(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        for chunk in self.proto.data_to_send():
            if chunk:
                self.transport.write(chunk)

    def _on_text(self, data: bytes) -> None:
        if data.startswith(PING_PREFIX):
            # What live.js does: echo the nonce at once (data_received flushes it). Not a market frame.
            self.proto.send_text(b'{"action":"pong","n":' + data[len(PING_PREFIX) : -3] + b"}")
            self.stats.pongs += 1
            return
        now = time.monotonic()
        stats = self.stats
        last = self.last
        measuring = stats.measuring
        n = 0
        for m in FRAGMENT_RE.finditer(data):
            ticker = m.group(1)
            seq = int(m.group(2))
            if seq < last.get(ticker, -1):
                stats.out_of_order += 1
            else:
                last[ticker] = seq
            if measuring and seq != FINAL_SEQ:
                stats.latencies.append(now - float(m.group(3)))
            n += 1
        if measuring:
            stats.frames += 1
            stats.fragments += n

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.proto.send_close(1000)
            self._flush()
            self.transport.close()

    def is_final(self, tickers: list[bytes]) -> bool:
        last = self.last
        return all(last.get(t) == FINAL_SEQ for t in tickers)


async def open_clients(
    host: str,
    port: int,
    paths: list[str],
    origin: str,
    cookie: str | None,
    stats: Stats,
    concurrency: int = 64,
) -> list[WSClient]:
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(concurrency)

    async def one(path: str) -> WSClient:
        async with sem:
            for attempt in range(5):
                client = WSClient(f"ws://{host}:{port}{path}", origin, cookie, stats)
                try:
                    await loop.create_connection(lambda c=client: c, host, port)
                    await asyncio.wait_for(client.opened, 30)
                    return client
                except (OSError, ConnectionError, TimeoutError):
                    if client.transport is not None:
                        client.transport.abort()
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
            raise AssertionError("unreachable")

    return list(await asyncio.gather(*(one(p) for p in paths)))


def kernel_queued(server_port: int, client_ports: set[int]) -> dict[int, tuple[int, bool]]:
    """For loopback connections to `server_port` from each of `client_ports`: the bytes the kernel holds
    for it (the server end's send queue + the client end's receive queue, from /proc/net/tcp) and
    whether the server's end is still ESTABLISHED."""
    out: dict[int, tuple[int, bool]] = {}
    try:
        with open("/proc/net/tcp") as fh:
            lines = fh.readlines()[1:]
    except OSError:
        return out
    for line in lines:
        f = line.split()
        lport, rport = int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16)
        tx, rx = (int(x, 16) for x in f[4].split(":"))
        if lport == server_port and rport in client_ports:
            nbytes, est = out.get(rport, (0, False))
            out[rport] = (nbytes + tx, est or f[3] == "01")
        elif lport in client_ports and rport == server_port:
            nbytes, est = out.get(lport, (0, False))
            out[lport] = (nbytes + rx, est)
    return out


class StalledBrowser:
    """A browser that stops reading: handshake, then never recv() again (TCP-level backpressure).

    With `chatty`, it still sends a tiny no-op command every few seconds (a page that is alive but
    whose link, or main thread, cannot keep up), which a server that pings only idle sockets never
    notices.
    """

    def __init__(
        self, host: str, port: int, path: str, origin: str, cookie: str | None, chatty: bool
    ) -> None:
        self.chatty = chatty
        self.proto = ClientProtocol(
            parse_uri(f"ws://{host}:{port}{path}"), origin=Origin(origin), max_size=None
        )
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        request = self.proto.connect()
        if cookie:
            request.headers["Cookie"] = cookie
        self.proto.send_request(request)
        self.sock.sendall(b"".join(self.proto.data_to_send()))
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(1)  # byte by byte: read the handshake response and nothing more
            if not chunk:
                raise ConnectionError("stalled browser: closed during handshake")
            buf += chunk
        self.proto.receive_data(buf)
        self.proto.events_received()
        if self.proto.state is not State.OPEN:
            raise ConnectionError(f"stalled browser: handshake failed: {buf[:80]!r}")
        self.sends_failed = False
        self.port = self.sock.getsockname()[1]
        self.opened_at = time.monotonic()
        self.peak_queued = (
            0  # most bytes the kernel held for this socket (both ends) while the server had it open
        )
        self.open_until: float | None = None  # last sample that saw the server's end established

    def sample(self, queued: dict[int, tuple[int, bool]]) -> None:
        """Record one kernel_queued() observation (keyed by this socket's port)."""
        nbytes, established = queued.get(self.port, (0, False))
        if established:  # once the server has closed its end, the drain at the end counts what is left
            self.peak_queued = max(self.peak_queued, nbytes)
            self.open_until = time.monotonic()

    def poke(self) -> None:
        """The no-op command a chatty stalled page sends (watch nothing)."""
        if not self.chatty or self.sends_failed:
            return
        self.proto.send_text(b'{"action": "watch", "tickers": []}')
        try:
            self.sock.sendall(b"".join(self.proto.data_to_send()))
        except OSError:
            self.sends_failed = True

    def drain(self, idle: float = 1.0, limit: float = 20.0) -> tuple[int, str]:
        """Read everything the server had queued for this socket. Returns (bytes, how it ended)."""
        self.sock.settimeout(idle)
        total = 0
        deadline = time.monotonic() + limit
        how = "idle"
        try:
            while time.monotonic() < deadline:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    how = "closed by server"
                    break
                total += len(chunk)
        except TimeoutError:
            how = "still open"
        except OSError as exc:
            how = f"reset by server ({exc.__class__.__name__})"
        finally:
            self.sock.close()
        return total, how
