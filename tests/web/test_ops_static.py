"""Static files in production: `collectstatic` writes content-hashed, compressed copies, and the app serves them
itself (no proxy needed) with a one-year Cache-Control and gzip or brotli encoding."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT, _free_port, _wait_for_port, database_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def production_static_server(collected_static):
    # collected_static: the run's one production `collectstatic` (tests/static_once.py), read only here.
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "KALSHIWEB_STATIC_MANIFEST": "true",
        "KALSHIWEB_STATIC_ROOT": str(collected_static),
    }
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshiweb.serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}", collected_static
    finally:
        proc.terminate()
        proc.wait(10)


def test_static_files_have_hashed_names_a_year_of_caching_and_compression(production_static_server):
    base, root = production_static_server
    page = httpx.get(f"{base}/login/", timeout=10).text
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    css = next(u for u in urls if u.startswith("/static/css/app."))
    assert re.fullmatch(r"/static/css/app\.[0-9a-f]{12}\.css", css), css
    assert any(re.search(r"/static/django_htmx/htmx-2(\.min)?\.[0-9a-f]{12}\.js$", u) for u in urls), urls
    assert (root / css.removeprefix("/static/")).with_suffix(".css.br").exists()
    for url in urls:
        for encoding in ("br", "gzip"):
            response = httpx.get(f"{base}{url}", headers={"Accept-Encoding": encoding}, timeout=10)
            assert response.status_code == 200, url
            assert response.headers["Content-Encoding"] == encoding, url
            assert "max-age=31536000" in response.headers["Cache-Control"], url
            assert "immutable" in response.headers["Cache-Control"], url
    plain = httpx.get(f"{base}{css}", headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "Content-Encoding" not in plain.headers and b"body" in plain.content


def test_the_set_up_collects_static_files_and_empties_the_metrics_directory(settings, tmp_path):
    from kalshiweb.ops import prepare_static_and_metrics

    settings.KALSHIWEB_STATIC_MANIFEST = True
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "kalshiweb.staticfiles.StaticFilesStorage"},
    }
    settings.KALSHIWEB_METRICS_DIR = str(tmp_path / "metrics")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_123.db").write_bytes(b"left by a previous run")
    prepare_static_and_metrics()
    assert (tmp_path / "static" / "staticfiles.json").exists()
    assert list((tmp_path / "static" / "css").glob("app.*.css.gz"))
    assert list((tmp_path / "metrics").iterdir()) == []


@pytest.mark.django_db
def test_before_collectstatic_pages_still_render_with_plain_static_names(client, settings, tmp_path):
    settings.STATIC_ROOT = str(tmp_path / "empty")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "kalshiweb.staticfiles.StaticFilesStorage"},
    }
    response = client.get("/login/")
    assert response.status_code == 200
    assert 'href="/static/css/app.css"' in response.content.decode()
