"""docs/api.md: its schema is the schema the server serves."""

from __future__ import annotations

import re
from pathlib import Path

from kalshiweb.graphql.schema import sdl

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def block(marker: str, language: str) -> str:
    text = DOC.read_text()
    match = re.search(rf"<!-- {marker}[^>]*-->\n```{language}\n(.*?)```\n", text, re.S)
    assert match, f"no {marker} block in docs/api.md"
    return match.group(1)


def test_the_documented_sdl_is_the_served_schema():
    assert block("sdl", "graphql") == sdl(), (
        "docs/api.md is out of date: run python -m kalshiweb.graphql.schema"
    )


def test_the_example_is_about_twenty_lines():
    lines = [line for line in block("example", "python").splitlines() if line.strip()]
    assert 15 <= len(lines) <= 26
