"""Production static files storage: content-hashed, gzip- and brotli-compressed copies (ServeStatic), with a
fallback to the plain names while `collectstatic` has not run yet (a fresh checkout still renders its pages:
`make bench`, a bare `python -m kalshiweb.serve`; `check --deploy` warns)."""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles.storage import StaticFilesStorage as PlainStorage
from servestatic.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    def url(self, name: Any, force: bool = False) -> str:
        if not self.hashed_files:  # no manifest in STATIC_ROOT (yet)
            return PlainStorage.url(self, name)
        return super().url(name, force)
