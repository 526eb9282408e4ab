"""Retake the screenshots in docs/screenshots (the README shows them): `make screenshots`.

They are taken by the browser tests themselves (each calls tests.web.test_ops_csp_browser.shoot at the moment
a trader would look), so the pictures show what the tests check. This script runs those tests with
KALSHIWEB_SHOTS_DIR set to a temporary folder and copies the ones the docs use. Needs Chromium, as the browser
tests do. tests/web/test_docs_screenshots.py keeps the list, the tests and the docs in step."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "screenshots"
# name → the browser test that takes it
SHOTS = {
    "desk": "tests/web/test_desk_browser.py",
    "desk-chart": "tests/markets/test_chart_browser.py",
    "desk-shortcuts": "tests/web/test_desk_browser.py",
    "event": "tests/markets/test_event_browser.py",
    "markets": "tests/web/test_ops_csp_browser.py",
    "portfolio-positions": "tests/portfolio/test_live_portfolio_page.py",
}
SCHEMES = ("light", "dark")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "KALSHIWEB_SHOTS_DIR": folder, "KALSHIWEB_REQUIRE_BROWSER": "1"}
        files = sorted(set(SHOTS.values()))
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *files], cwd=ROOT, env=env
        )
        if done.returncode != 0:
            print("screenshots: the browser tests failed; docs/screenshots left as it was", file=sys.stderr)
            return done.returncode
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in SHOTS:
            for scheme in SCHEMES:
                shutil.copyfile(Path(folder) / f"{name}-{scheme}.png", DOCS / f"{name}-{scheme}.png")
    print(f"screenshots: {len(SHOTS) * len(SCHEMES)} files written to {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
