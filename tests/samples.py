"""Where Kalshi's sample payloads live: ../shared/kalshi-samples beside the project (KALSHI_SAMPLES_DIR overrides)."""

from __future__ import annotations

import os
from pathlib import Path

SAMPLES = Path(
    os.environ.get("KALSHI_SAMPLES_DIR") or Path(__file__).resolve().parents[2] / "shared" / "kalshi-samples"
)
