"""``python -m bench [NAME ...]``: run the benchmarks (default: all) and write bench/results.json."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import sys

from bench import write_results
from sensorlake.config import load_config

BENCHMARKS = ("backfill", "validate", "stream", "score", "train", "training_set", "scale")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: every one present of {BENCHMARKS})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--rows", type=int, help="readings to generate (each benchmark has its own default)")
    parser.add_argument("--base-rows", type=int, help="scale: readings at 1x (default 10,000,000)")
    parser.add_argument("--sizes", help="scale: multiples of --base-rows to run, e.g. 1,4,16 (the default)")
    args = parser.parse_args(argv)
    extra = {"base_rows": args.base_rows, "sizes": [int(s) for s in args.sizes.split(",")] if args.sizes else None}
    cfg = load_config(overrides=args.overrides)
    chosen = args.names or [n for n in BENCHMARKS if importlib.util.find_spec(f"bench.{n}")]
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        accepted = inspect.signature(module.run).parameters
        module.run(cfg, rows=args.rows, **{k: v for k, v in extra.items() if v is not None and k in accepted})
    print(f"results: {write_results()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
