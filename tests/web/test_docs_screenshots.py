"""The docs' screenshots stay tied to the tests that take them (tests/screenshots.py, `make screenshots`): each
one listed is taken by its browser test, exists in light and dark, and is shown in the README; no picture in
docs/screenshots is left over from a view that no test shoots any more."""

from __future__ import annotations

import re

from tests.screenshots import DOCS, ROOT, SCHEMES, SHOTS


def shot_names(test_file: str) -> set[str]:
    source = (ROOT / test_file).read_text()
    names = set(re.findall(r'shoot\(page, "([^"]+)"\)', source))
    if "path.strip" in source:  # the CSP test shoots each page it visits under its path's name
        names |= {p.strip("/").replace("/", "-") for p in re.findall(r'\(\s*"(/[^"]*)",\s*"', source)}
    return names


def test_every_docs_screenshot_is_taken_by_its_test_and_exists_in_both_themes():
    for name, test_file in SHOTS.items():
        assert name in shot_names(test_file), f"{test_file} no longer takes {name!r}"
        for scheme in SCHEMES:
            assert (DOCS / f"{name}-{scheme}.png").is_file(), (
                f"run `make screenshots`: {name}-{scheme}.png missing"
            )


def test_the_readme_shows_them_and_nothing_stale_is_left():
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"docs/screenshots/([\w-]+)\.png", readme))
    expected = {f"{name}-{scheme}" for name in SHOTS for scheme in SCHEMES}
    assert {f"{name}-light" for name in SHOTS} <= shown, "the README shows each screenshot (light at least)"
    assert shown <= expected, f"the README shows pictures no test takes: {shown - expected}"
    on_disk = {p.stem for p in DOCS.glob("*.png")}
    assert on_disk == expected, f"stale or missing files in docs/screenshots: {on_disk ^ expected}"
