"""kalshiweb.serve: the startup heap is frozen out of the garbage collector before the server starts."""

from __future__ import annotations

import gc
import sys

import pytest

from kalshiweb import serve


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def run_uvicorn_capturing(monkeypatch) -> dict:
    seen: dict = {}

    def fake_run(app, **kwargs):
        seen["app"] = app
        seen["frozen"] = gc.get_freeze_count()
        seen["asgi_imported"] = "kalshiweb.asgi" in sys.modules

    monkeypatch.setattr("uvicorn.run", fake_run)
    serve.main(["--server", "uvicorn"])
    return seen


def test_the_app_is_imported_and_frozen_before_uvicorn_serves(monkeypatch, unfrozen):
    monkeypatch.delenv("KALSHIWEB_GC_FREEZE", raising=False)
    seen = run_uvicorn_capturing(monkeypatch)
    assert seen["app"] == "kalshiweb.asgi:application"
    assert seen["asgi_imported"]
    assert seen["frozen"] > 0


def test_kalshiweb_gc_freeze_0_leaves_the_collector_alone(monkeypatch, unfrozen):
    monkeypatch.setenv("KALSHIWEB_GC_FREEZE", "0")
    seen = run_uvicorn_capturing(monkeypatch)
    assert seen["frozen"] == 0
