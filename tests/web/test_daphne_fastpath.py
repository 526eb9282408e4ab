"""kalshiweb.daphne_fastpath: the write-through TCP transport and autobahn's sendData without log formatting.

The transport tests drive a real `WriteThroughServer` on a real loopback TCP connection with a fake reactor
that only records which connections asked to be told when they can write; `pump()` plays the reactor's part
(calls `doWrite` while the socket is writable) and the peer reads at its own pace.
"""

from __future__ import annotations

import fcntl
import logging
import select
import socket
import struct
import termios
from typing import Any

import pytest
from twisted.internet import main, tcp
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from kalshiweb import daphne_fastpath
from kalshiweb.daphne_fastpath import WriteThroughServer


class FakeReactor:
    def __init__(self) -> None:
        self.writers: set[Any] = set()
        self.readers: set[Any] = set()
        self.later: list[tuple[Any, tuple[Any, ...]]] = []

    def addWriter(self, w: Any) -> None:
        self.writers.add(w)

    def removeWriter(self, w: Any) -> None:
        self.writers.discard(w)

    def addReader(self, r: Any) -> None:
        self.readers.add(r)

    def removeReader(self, r: Any) -> None:
        self.readers.discard(r)

    def callLater(self, _delay: float, f: Any, *args: Any) -> None:
        self.later.append((f, args))


class Recorder(Protocol):
    def __init__(self) -> None:
        self.lost: list[Failure] = []

    def connectionLost(self, reason: Failure = main.CONNECTION_DONE) -> None:  # type: ignore[assignment]
        self.lost.append(reason)


class FakePort:
    _realPortNumber = 0


def make_connection(sndbuf: int | None = None, rcvbuf: int | None = None):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    peer = socket.socket()
    if rcvbuf:
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    peer.connect(listener.getsockname())
    server_sock, addr = listener.accept()
    listener.close()
    if sndbuf:
        server_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    reactor = FakeReactor()
    protocol = Recorder()
    transport = WriteThroughServer(server_sock, protocol, addr, FakePort(), 1, reactor)
    protocol.makeConnection(transport)
    return transport, peer, reactor, protocol


def unsent(sock: socket.socket) -> int:
    """Bytes still in the kernel's send queue of `sock` (not yet acknowledged by the peer's side)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]


def pump(
    transport: WriteThroughServer, peer: socket.socket, reactor: FakeReactor, chunk: int = 4096
) -> bytes:
    """Read everything the transport has written or buffered, `chunk` bytes at a time, playing the reactor."""
    got = bytearray()
    peer.setblocking(False)
    while True:
        if transport in reactor.writers:
            _, writable, _ = select.select([], [transport.socket], [], 0)
            if writable:
                why = transport.doWrite()
                if why:
                    reactor.writers.discard(transport)
                    transport.connectionLost(Failure(why))
        # Everything is written, but with small buffers the kernel may still hold the end in the sending
        # socket's queue, delivered a moment after the reader makes room: done once that queue is empty. Read
        # before the read: what the peer acknowledged by then is in its receive queue, so a read that finds
        # nothing after it means there is nothing left (checked after the read, the end could arrive between
        # the two, and was lost in a CI run).
        sock = getattr(transport, "socket", None)  # gone once a closing transport has flushed and closed
        done = transport not in reactor.writers and (sock is None or not unsent(sock))
        try:
            data = peer.recv(chunk)
        except BlockingIOError:
            if done:
                return bytes(got)
            select.select([peer], [], [], 0.05)
            continue
        if not data:
            return bytes(got)
        got += data


def test_a_write_with_nothing_buffered_goes_to_the_socket_at_once():
    transport, peer, reactor, _ = make_connection()
    transport.write(b"frame-1")
    assert transport not in reactor.writers  # no reactor round trip
    assert transport.dataBuffer == b"" and transport._tempDataLen == 0
    peer.settimeout(5)
    assert peer.recv(100) == b"frame-1"
    transport.write(b"frame-2")
    assert peer.recv(100) == b"frame-2"
    peer.close()


def test_a_frame_larger_than_the_socket_buffers_arrives_intact_and_in_order_with_a_slow_reader():
    transport, peer, reactor, _ = make_connection(sndbuf=8192, rcvbuf=8192)
    big = bytes(range(256)) * 8192  # 2 MiB, far more than the kernel takes at once
    transport.write(big)
    assert transport in reactor.writers  # the rest is buffered and waits for the reactor
    # Later writes queue behind the buffered remainder, even small ones the socket could take now.
    tail = [struct.pack(">I", i) * 10 for i in range(50)]
    for part in tail:
        transport.write(part)
    received = pump(transport, peer, reactor, chunk=1024)
    assert received == big + b"".join(tail)
    assert transport not in reactor.writers
    # With the buffer drained, writes go straight through again.
    transport.write(b"after")
    assert transport not in reactor.writers
    peer.settimeout(5)
    assert peer.recv(100) == b"after"
    peer.close()


def test_a_write_waits_behind_buffered_data_even_when_the_kernel_has_room_again():
    transport, peer, reactor, _ = make_connection(sndbuf=8192, rcvbuf=8192)
    big = b"B" * (1 << 20)
    transport.write(big)
    assert transport in reactor.writers
    peer.settimeout(5)
    head = bytearray()
    # The reader frees kernel buffer space until the server's socket is writable; the reactor has not run.
    while not select.select([], [transport.socket], [], 0.01)[1]:
        head += peer.recv(65536)
    transport.write(b"small")  # must not overtake the remainder of `big`
    assert bytes(head) + pump(transport, peer, reactor) == big + b"small"
    peer.close()


def test_eager_and_buffered_writes_keep_their_order():
    transport, peer, reactor, _ = make_connection(sndbuf=4096, rcvbuf=4096)
    expected = bytearray()
    received = bytearray()
    behind_a_buffer = eager = 0
    for i in range(400):
        part = (f"<{i}>".encode()) * (1 + i % 200)
        expected += part
        if transport in reactor.writers:
            behind_a_buffer += 1
        transport.write(part)
        if transport not in reactor.writers:
            eager += 1
        if i % 37 == 0:  # the reader catches up now and then: some writes go out at once, some are buffered
            received += pump(transport, peer, reactor, chunk=2048)
    received += pump(transport, peer, reactor)
    assert bytes(received) == bytes(expected)
    assert behind_a_buffer > 100 and eager > 5  # both paths were taken
    peer.close()


def test_writes_after_the_peer_closed_do_not_raise_and_the_connection_is_lost():
    transport, peer, reactor, protocol = make_connection()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()  # reset
    for _ in range(20):
        transport.write(b"x" * 1000)  # must not raise
    # The first write after the reset failed in the kernel: Twisted's path took it and reports the loss.
    assert transport in reactor.writers
    why = transport.doWrite()
    assert why is main.CONNECTION_LOST
    transport.connectionLost(Failure(why))
    assert protocol.lost
    transport.write(b"more")  # after connectionLost: ignored, as Twisted does
    assert not transport.connected


def test_a_streaming_producer_is_paused_while_buffered_past_the_buffer_size_and_resumed_when_drained():
    transport, peer, reactor, _ = make_connection(sndbuf=4096, rcvbuf=4096)

    class Producer:
        paused = resumed = 0

        def pauseProducing(self) -> None:
            self.paused += 1

        def resumeProducing(self) -> None:
            self.resumed += 1

        def stopProducing(self) -> None:
            pass

    producer = Producer()
    transport.registerProducer(producer, True)
    transport.write(b"small")
    assert producer.paused == 0
    transport.write(b"y" * (transport.bufferSize * 4))
    assert producer.paused == 1 and transport.producerPaused
    received = pump(transport, peer, reactor, chunk=8192)
    assert received == b"small" + b"y" * (transport.bufferSize * 4)
    assert producer.resumed == 1 and not transport.producerPaused
    peer.close()


def test_a_pull_producer_is_still_asked_for_more_after_each_write():
    transport, peer, reactor, _ = make_connection()

    class PullProducer:
        def __init__(self) -> None:
            self.chunks = [b"one", b"two", b"three"]

        def resumeProducing(self) -> None:
            if self.chunks:
                transport.write(self.chunks.pop(0))

        def stopProducing(self) -> None:
            pass

    transport.registerProducer(PullProducer(), False)  # writes b"one" (Twisted calls resumeProducing)
    assert transport in reactor.writers  # the stock path: doWrite is what asks the producer for more
    assert pump(transport, peer, reactor) == b"onetwothree"
    peer.close()


def test_an_aborted_or_closing_connection_sends_nothing_more_eagerly():
    transport, peer, reactor, _ = make_connection()
    transport.abortConnection()
    transport.write(b"late")
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(100)
    peer.close()

    transport, peer, reactor, _ = make_connection()
    transport.write(b"first")
    transport.loseConnection()
    transport.write(b"second")  # Twisted still accepts writes while flushing before the close
    assert transport in reactor.writers
    got = pump(transport, peer, reactor)
    assert got == b"firstsecond"
    peer.close()


@pytest.fixture
def clean_install():
    daphne_fastpath.uninstall()
    yield
    daphne_fastpath.uninstall()


def test_install_replaces_the_servers_transport_and_daphnes_send_data(clean_install):
    from daphne.ws_protocol import WebSocketProtocol

    assert daphne_fastpath.install() == ["write-through", "send-data"]
    assert tcp.Port.transport is WriteThroughServer
    assert "sendData" in WebSocketProtocol.__dict__
    daphne_fastpath.uninstall()
    assert tcp.Port.transport is tcp.Server
    assert "sendData" not in WebSocketProtocol.__dict__


def test_install_can_be_turned_off(clean_install, monkeypatch):
    monkeypatch.setenv("KALSHIWEB_DAPHNE_FASTPATH", "0")
    assert daphne_fastpath.install() == []
    assert tcp.Port.transport is tcp.Server


def test_an_unexpected_twisted_keeps_the_stock_path_with_a_log_line(clean_install, monkeypatch, caplog):
    class OtherServer(tcp.Server):
        pass

    monkeypatch.setattr(tcp.Port, "transport", OtherServer)
    with caplog.at_level(logging.WARNING, logger="kalshiweb.daphne_fastpath"):
        installed = daphne_fastpath.install()
    assert "write-through" not in installed
    assert tcp.Port.transport is OtherServer
    assert "stock write path" in caplog.text


def test_other_versions_than_it_was_written_for_keep_the_stock_path_with_one_log_line(
    clean_install, monkeypatch, caplog
):
    from daphne.ws_protocol import WebSocketProtocol

    real = daphne_fastpath._installed_version
    monkeypatch.setattr(
        daphne_fastpath, "_installed_version", lambda name: "99.0.0" if name == "twisted" else real(name)
    )
    with caplog.at_level(logging.INFO, logger="kalshiweb.daphne_fastpath"):
        assert daphne_fastpath.install() == []
    assert tcp.Port.transport is tcp.Server
    assert "sendData" not in WebSocketProtocol.__dict__
    assert len(caplog.records) == 1
    assert "twisted 99.0.0 (written for 26.10.0)" in caplog.text


def test_the_installed_versions_are_the_ones_it_was_written_for():
    """The lock file and WRITTEN_FOR move together: an upgrade of one without the other fails here."""
    assert daphne_fastpath._check_versions() is None


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


class FakeStats:
    outgoingOctetsWireLevel = 0


def _no_op(*args: Any, **kwargs: Any) -> None:
    pass


class FakeLog:
    debug = staticmethod(_no_op)


def make_ws(**overrides: Any) -> Any:
    ws = type("WS", (), {})()
    ws.send_queue = []
    ws.logOctets = False
    ws.state = 3
    ws.log = FakeLog()
    ws.transport = FakeTransport()
    ws.trafficStats = FakeStats()
    for k, v in overrides.items():
        setattr(ws, k, v)
    return ws


def test_send_data_writes_and_counts_without_the_debug_log_when_it_is_off():
    stock_calls = []
    send_data = daphne_fastpath._make_send_data(lambda *a: stock_calls.append(a), 3, _no_op)
    ws = make_ws()
    send_data(ws, b"\x81\x02hi")
    assert ws.transport.written == [b"\x81\x02hi"]
    assert ws.trafficStats.outgoingOctetsWireLevel == 4
    assert stock_calls == []


@pytest.mark.parametrize(
    "overrides, kwargs",
    [
        ({"send_queue": [(b"q", True)]}, {}),
        ({"logOctets": True}, {}),
        ({"state": 1}, {}),
        ({"log": type("L", (), {"debug": staticmethod(print)})()}, {}),
        ({}, {"sync": True}),
        ({}, {"chopsize": 1}),
    ],
)
def test_send_data_defers_to_autobahn_whenever_it_would_do_more(overrides, kwargs):
    stock_calls = []
    send_data = daphne_fastpath._make_send_data(lambda *a: stock_calls.append(a), 3, _no_op)
    ws = make_ws(**overrides)
    send_data(ws, b"data", **kwargs)
    assert ws.transport.written == []
    assert len(stock_calls) == 1 and stock_calls[0][1] == b"data"
