"""Every environment variable the code reads is listed in .env.example, and read through kalshiweb.env's typed
helpers, which refuse a bad value instead of running with a wrong one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kalshiweb.env import ConfigError, envbool, envchoice, envint

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["kalshiweb", "markets", "trading", "portfolio"]
READS = [
    re.compile(r"\benv(?:str|bool|int|decimal|list|choice)\(\s*\"([A-Z][A-Z0-9_]*)\""),
    re.compile(r"\bos\.(?:environ\.get|getenv)\(\s*\"([A-Z][A-Z0-9_]*)\""),
    re.compile(r"\bos\.environ\[\"([A-Z][A-Z0-9_]*)\"\](?!\s*=[^=])"),
]
PROCFILE_READS = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")
# Set by `make run` (kalshiweb.bootstrap) for the processes it starts, by Django's own entry points, or by the
# test runner (pytest-xdist names its workers; the test plugin marks its embedded Redis): not for anyone to set.
INTERNAL = {
    "DJANGO_SETTINGS_MODULE",
    "EMBEDDED_REDIS_BIN",
    "EMBEDDED_REDIS_CONF",
    "EMBEDDED_REDIS_PORT",
    "KALSHIWEB_PORT",
    "KALSHIWEB_TEST_EMBEDDED_REDIS",
    "PYTEST_XDIST_WORKER",
    "SIM_API_KEY_ARG",
}


def env_reads() -> dict[str, str]:
    """Each variable read, with one place that reads it."""
    found: dict[str, str] = {}
    files = [p for d in SOURCES for p in sorted((ROOT / d).rglob("*.py"))] + [ROOT / "manage.py"]
    for path in files:
        text = path.read_text()
        for pattern in READS:
            for name in pattern.findall(text):
                found.setdefault(name, str(path.relative_to(ROOT)))
    for path in sorted(ROOT.glob("Procfile*")):
        for name in PROCFILE_READS.findall(path.read_text()):
            found.setdefault(name, path.name)
    return found


def listed() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_the_scan_finds_reads_of_every_kind():
    reads = env_reads()
    assert reads["KALSHIWEB_TIME_ZONE"] == "kalshiweb/settings.py"  # envstr(...)
    assert "REDIS_URL" in reads and "KALSHI_SIM_SEED" in reads  # os.environ.get(...), the Procfile
    assert "KALSHIWEB_PORTFOLIO_STALE_AFTER_SECONDS" in reads


def test_every_variable_the_code_reads_is_in_env_example():
    missing = {name: where for name, where in env_reads().items() if name not in INTERNAL | listed()}
    assert missing == {}, f"add these to .env.example: {missing}"


def test_the_portfolio_reads_settings_that_settings_py_defines(settings):
    from portfolio import services

    assert services.STALE_AFTER == settings.KALSHIWEB_PORTFOLIO_STALE_AFTER_SECONDS
    assert services.REFRESH_WINDOW == settings.KALSHIWEB_PORTFOLIO_REFRESH_WINDOW_SECONDS
    assert services.EQUITY_EVERY.total_seconds() == settings.KALSHIWEB_PORTFOLIO_EQUITY_EVERY_SECONDS


def test_a_bad_value_is_refused(monkeypatch):
    monkeypatch.setenv("KW_TEST_INT", "ten")
    monkeypatch.setenv("KW_TEST_BOOL", "maybe")
    monkeypatch.setenv("KW_TEST_CHOICE", "sometimes")
    with pytest.raises(ConfigError, match="KW_TEST_INT must be an integer"):
        envint("KW_TEST_INT", 1)
    with pytest.raises(ConfigError, match="KW_TEST_BOOL must be a boolean"):
        envbool("KW_TEST_BOOL")
    with pytest.raises(ConfigError, match="KW_TEST_CHOICE must be one of off, staff, all"):
        envchoice("KW_TEST_CHOICE", "off", ("off", "staff", "all"))
    monkeypatch.setenv("KW_TEST_CHOICE", "staff")
    assert envchoice("KW_TEST_CHOICE", "off", ("off", "staff", "all")) == "staff"
