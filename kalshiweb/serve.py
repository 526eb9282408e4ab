"""Serve the ASGI app: daphne by default, uvicorn with ASGI_SERVER=uvicorn.

Under daphne, kalshiweb.daphne_fastpath first makes its per-frame writes cheaper (see that module;
KALSHIWEB_DAPHNE_FASTPATH=0 keeps the stock path).

python -m kalshiweb.serve [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("KALSHIWEB_BIND", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--server", default=os.environ.get("ASGI_SERVER", "daphne"), choices=["daphne", "uvicorn"]
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kalshiweb.settings")
    if args.server == "uvicorn":
        import uvicorn

        uvicorn.run(
            "kalshiweb.asgi:application", host=args.host, port=args.port, lifespan="off", ws="websockets"
        )
        return
    from daphne.cli import CommandLineInterface

    from kalshiweb import daphne_fastpath

    daphne_fastpath.install()  # before daphne listens: its connections are built from tcp.Port.transport
    sys.argv = ["daphne", "-b", args.host, "-p", str(args.port), "kalshiweb.asgi:application"]
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
