"""Write one `## ` section of docs/benchmarks.md, leaving the other benchmarks' sections alone."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nRatios are against baselines measured in the same run: these machines are shared and noisy.\nRun them all with `make bench`.\n\n"


def write_section(heading: str, body: str, path: Path = DOC) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.exists() else HEADER
    start = text.find(heading)
    if start == -1:
        text = text.rstrip() + "\n\n" + body.strip() + "\n"
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + body.strip() + "\n" + (text[end:] if end != -1 else "")
    path.write_text(text)
