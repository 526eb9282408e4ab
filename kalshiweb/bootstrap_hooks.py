"""Steps other apps add to `make run`'s first-run set-up (kept separate so bootstrap stays small)."""

from __future__ import annotations


def after_migrate() -> None:
    """Nothing yet: the trading app will link the first user to the simulator account here."""
