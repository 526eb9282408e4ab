"""`make run`'s process manager (kalshiweb.supervisor): one process dying is restarted with a log line, the
others keep running; stopping the supervisor stops them all. Real processes, a toy Procfile."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


class Output:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=lambda: self.lines.extend(iter(stdout.readline, "")), daemon=True).start()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 15.0) -> list[re.Match[str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for line in list(self.lines) if (m := re.search(pattern, line))]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} x{count} not seen in:\n{''.join(self.lines)}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_crashed_process_is_restarted_and_the_others_are_untouched(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "alpha: sleep 600 & echo alpha-up $$ $!; wait\n"
        "beta: echo beta-up $$ ${GREETING:-default}; exec sleep 600\n"
        "unused: echo never\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshiweb.supervisor", str(procfile), "alpha", "beta"],
        cwd=ROOT,
        env={**os.environ, "GREETING": "hello"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Output(proc)
    try:
        first = out.wait_for(r"alpha +\| alpha-up (\d+) (\d+)")[0]
        alpha, alpha_worker = int(first.group(1)), int(first.group(2))
        beta_line = out.wait_for(r"beta +\| beta-up (\d+) (\w+)")[0]
        beta = int(beta_line.group(1))
        assert beta_line.group(2) == "hello"  # the command line's variables expand as under a shell

        os.kill(alpha, signal.SIGKILL)  # alpha "crashes", leaving what it started (a server's worker) behind
        out.wait_for(r"alpha exited with code -9; restarting it in 1 s \(restart 1\)")
        new_alpha = int(out.wait_for(r"alpha +\| alpha-up (\d+)", count=2)[1].group(1))
        assert new_alpha != alpha and alive(new_alpha)
        assert not alive(alpha_worker)  # stopped with it (it would hold the port the new one needs)
        assert alive(beta) and len(out.wait_for(r"beta-up")) == 1  # beta never stopped or restarted
        assert proc.poll() is None
        assert not any("never" in line for line in out.lines)

        os.kill(new_alpha, signal.SIGKILL)  # a second crash backs off longer
        out.wait_for(r"alpha exited with code -9; restarting it in 2 s \(restart 2\)")
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        proc.wait(20)
    assert not alive(beta)
    out.wait_for(r"system +\| stopped")
