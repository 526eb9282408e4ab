"""Serve the ASGI app: daphne by default, uvicorn with ASGI_SERVER=uvicorn.

Under daphne, kalshiweb.daphne_fastpath first makes its per-frame writes cheaper (see that module;
KALSHIWEB_DAPHNE_FASTPATH=0 keeps the stock path).

Before serving, the app is imported and everything alive then is moved out of the garbage collector's
reach (`gc.freeze()`, see `freeze_startup_heap`). KALSHIWEB_GC_FREEZE=0 leaves the collector as it is.

python -m kalshiweb.serve [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from kalshiweb.env import envbool, envchoice, envint, envstr


def freeze_startup_heap() -> int:
    """Import the app, then move every object alive now into the collector's permanent generation.

    A full (generation 2) collection runs on the server's one event loop and walks every tracked object;
    with Django, Channels and the servers imported that is ~120,000 objects that live as long as the
    process, and every closed socket under uvicorn leaves its protocol objects in reference cycles that
    only a full collection frees, so such a pass both walks the startup heap and frees the garbage of
    every socket closed since the last one. In the fan-out benchmark one pass took ~160 ms mid-workload
    (see docs/benchmarks.md): every socket's updates waited behind it. Frozen objects are never walked
    again, full passes get cheaper, and since the collector schedules them by the share of long-lived
    objects that are new, they come sooner with less garbage each. Returns the number of objects frozen.
    """
    if not envbool("KALSHIWEB_GC_FREEZE", True):
        return 0
    import kalshiweb.asgi  # noqa: F401  (Django set-up, settings, URL conf, consumers)

    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=envstr("KALSHIWEB_BIND", "127.0.0.1") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=envint("PORT", 8000))
    parser.add_argument(
        "--server",
        default=envchoice("ASGI_SERVER", "daphne", ("daphne", "uvicorn")),
        choices=["daphne", "uvicorn"],
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kalshiweb.settings")
    if args.server == "uvicorn":
        import uvicorn

        freeze_startup_heap()
        uvicorn.run(
            "kalshiweb.asgi:application", host=args.host, port=args.port, lifespan="off", ws="websockets"
        )
        return
    from daphne.cli import CommandLineInterface

    from kalshiweb import daphne_fastpath  # only under daphne (uvicorn does not need it)

    daphne_fastpath.install()  # before daphne listens: its connections are built from tcp.Port.transport
    freeze_startup_heap()
    sys.argv = ["daphne", "-b", args.host, "-p", str(args.port), "kalshiweb.asgi:application"]
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
