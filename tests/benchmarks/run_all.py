"""`make bench`: every benchmark, one after the other; each writes its own section of docs/benchmarks.md.

python tests/benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_book.py", "bench_markets.py", "bench_orders.py", "bench_fanout.py"]


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    failed = []
    for name in BENCHES:
        script = HERE / name
        if not script.exists():
            print(f"== {name}: missing, skipped")
            continue
        args = [sys.executable, str(script)]
        if quick and name != "bench_book.py":
            args.append("--quick")
        print(f"== {' '.join(args[1:])}", flush=True)
        if subprocess.call(args) != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
