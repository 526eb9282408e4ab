"""`make run`'s process manager: start the Procfile's processes and keep them running.

    python -m kalshiweb.supervisor PROCFILE [NAME ...]

Unlike honcho (which stops everything when one process exits), a process that exits is restarted on its
own, after a backoff (1 s, doubling up to 30 s; back to 1 s once it has run for a minute), with a log line
saying so; the others are untouched. Ctrl-C or SIGTERM stops them all (SIGTERM, then SIGKILL after 10 s).
Each process runs under `sh -c` (so `$VARS` and `${VAR:-default}` expand) in its own process group, its
output prefixed with the time and its name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0  # a process that ran this long starts over at FIRST_BACKOFF
STOP_GRACE = 10.0


def read_procfile(path: Path) -> dict[str, str]:
    commands: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        name, command = line.split(":", 1)
        commands[name.strip()] = command.strip()
    return commands


@dataclass
class Child:
    name: str
    command: str
    proc: subprocess.Popen[bytes] | None = None
    group: int | None = None  # the process group of its last start (what it started may outlive it)
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    def __init__(self, commands: dict[str, str], out: IO[str] = sys.stdout) -> None:
        self.children = [Child(name, command) for name, command in commands.items()]
        self.width = max([len(name) for name in commands] + [len("system")])
        self.out = out
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def log(self, name: str, text: str) -> None:
        with self.lock:
            self.out.write(f"{time.strftime('%H:%M:%S')} {name:<{self.width}} | {text}\n")
            self.out.flush()

    def start(self, child: Child) -> None:
        proc = subprocess.Popen(
            ["sh", "-c", child.command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops what it started
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # its output is a pipe: line by line, not in blocks
        )
        child.proc, child.group, child.started_at, child.restart_at = proc, proc.pid, time.monotonic(), None
        self.log("system", f"{child.name} started (pid {proc.pid})")
        threading.Thread(target=self._pump, args=(child.name, proc), daemon=True).start()

    def _pump(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self.log(name, raw.decode(errors="replace").rstrip("\n"))

    def check(self) -> None:
        """Notice exited processes (schedule their restart) and start the ones whose backoff is over."""
        now = time.monotonic()
        for child in self.children:
            if child.proc is not None and child.proc.poll() is not None:
                code = child.proc.returncode
                if now - child.started_at >= STABLE_AFTER:
                    child.backoff = FIRST_BACKOFF
                # What it started (a server's workers, a shell's children) goes with it, so the new one can
                # have its port: SIGTERM now, SIGKILL just before the restart.
                self._signal_group(child.group, signal.SIGTERM)
                child.proc, child.restart_at = None, now + child.backoff
                child.restarts += 1
                self.log(
                    "system",
                    f"{child.name} exited with code {code}; restarting it in {child.backoff:g} s "
                    f"(restart {child.restarts}); the other processes keep running",
                )
                child.backoff = min(child.backoff * 2, MAX_BACKOFF)
            elif child.proc is None and child.restart_at is not None and now >= child.restart_at:
                self._signal_group(child.group, signal.SIGKILL)
                self.start(child)

    def stop(self) -> None:
        self.stopping.set()
        for child in self.children:
            self._signal_group(child.group, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for child in self.children:
            if child.proc is not None:
                try:
                    child.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        while time.monotonic() < deadline and any(self._group_alive(c.group) for c in self.children):
            time.sleep(0.1)
        for child in self.children:
            self._signal_group(child.group, signal.SIGKILL)
            if child.proc is not None:
                child.proc.wait()
        self.log("system", "stopped")

    @staticmethod
    def _signal_group(group: int | None, sig: int) -> None:
        if group is None:
            return
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            pass

    @staticmethod
    def _group_alive(group: int | None) -> bool:
        if group is None:
            return False
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def run(self) -> int:
        def on_signal(signum: int, _frame: object) -> None:
            self.stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        for child in self.children:
            self.start(child)
        try:
            while not self.stopping.wait(0.2):
                self.check()
        finally:
            self.stop()
        return 0


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.exit("usage: python -m kalshiweb.supervisor PROCFILE [NAME ...]")
    commands = read_procfile(Path(argv[1]))
    names = argv[2:] or list(commands)
    unknown = [n for n in names if n not in commands]
    if unknown:
        sys.exit(f"not in {argv[1]}: {', '.join(unknown)}")
    return Supervisor({n: commands[n] for n in names}).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
