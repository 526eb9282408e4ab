"""Kalshi's sample payloads, copied into the repository (tests/fixtures/kalshi; its README names each file's source)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "kalshi"
