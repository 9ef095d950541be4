"""``python -m bench [NAME ...]``: run the benchmarks (default: all) and write bench/results.json."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from bench import write_results
from sensorlake.config import load_config

BENCHMARKS = ("backfill", "validate", "stream", "score", "train", "scale")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: every one present of {BENCHMARKS})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--rows", type=int, help="readings to generate (each benchmark has its own default)")
    args = parser.parse_args(argv)
    cfg = load_config(overrides=args.overrides)
    chosen = args.names or [n for n in BENCHMARKS if importlib.util.find_spec(f"bench.{n}")]
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        module.run(cfg, rows=args.rows)
    print(f"results: {write_results()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
