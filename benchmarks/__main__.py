"""Run the benchmarks and print one JSON line per measured ratio.

    python -m benchmarks            # all, full sizes (numbers recorded in benchmarks/README.md)
    python -m benchmarks --quick    # smaller sizes, a smoke run
    python -m benchmarks generation near_dup
    python -m benchmarks gpu        # the GPU path; one line and exit 0 without CUDA
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time

BENCHMARKS = ("generation", "judge_training", "near_dup", "judge_scoring", "store", "ingest", "splits", "gpu")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default all: {', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r} (choose from {', '.join(BENCHMARKS)})")
    machine = {"python": platform.python_version(), "cpu_count": os.cpu_count(),
               "machine": platform.machine(), "date": time.strftime("%Y-%m-%d")}
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        start = time.perf_counter()
        for record in module.run(quick=args.quick):
            record.setdefault("machine", machine)
            print(json.dumps(record, sort_keys=True), flush=True)
        print(json.dumps({"name": f"{name}/wall_s", "seconds": round(time.perf_counter() - start, 1)}),
              file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
