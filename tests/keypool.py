"""RSA-2048 key pairs for simulator accounts, generated once and then reused from run to run.

Generating an RSA-2048 key costs 50-200 ms of CPU, and the suite makes a few hundred simulator accounts
(`sim.add_account()`, the `trader` and `sim_settings` fixtures). The keys are test-only credentials for the
in-process simulator, so the pool keeps them in pytest's cache directory (.pytest_cache/d/kalshiweb-rsa-keys)
and the next run reads them back. Within one process every account still gets a key of its own (the pool
hands each key out once), so a request signed with another account's key is still refused.

Each process (the xdist controller and every worker) has a folder of its own; a file is written to a temporary
name and renamed, so two runs sharing a checkout never read half a key.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

PUBLIC_MARK = b"-----BEGIN PUBLIC KEY-----"


class KeyPool:
    def __init__(self, folder: Path | None, generate: Callable[[], tuple[bytes, bytes]]) -> None:
        self.folder = folder
        self.generate = generate
        self.handed_out = 0
        self.generated = 0
        self._lock = threading.Lock()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def __call__(self) -> tuple[bytes, bytes]:
        """The next unused (private PKCS#8 PEM, public SPKI PEM) pair, as generate_rsa_key_pair returns it."""
        with self._lock:
            number = self.handed_out
            self.handed_out += 1
        if self.folder is None:
            return self._fresh()
        path = self.folder / f"{number:05d}.pem"
        try:
            data = path.read_bytes()
            private, public = data.split(PUBLIC_MARK, 1)
            return private, PUBLIC_MARK + public
        except (FileNotFoundError, ValueError):
            pass
        private, public = self._fresh()
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{number:05d}-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(private + public)
        os.replace(tmp, path)
        return private, public

    def _fresh(self) -> tuple[bytes, bytes]:
        self.generated += 1
        return self.generate()
