"""Benchmarks: each prints ``BENCH <name> <key>=<value> ...`` and records the same figures.

Run them all with ``make bench`` (``python -m bench``), or some with ``python -m bench backfill``.
Results go to bench/results.json (one entry per BENCH line, with the machine), which
BENCHMARKS.md quotes. Benchmarks measure ratios side by side in one run: the machine is noisy.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import time
from pathlib import Path

RESULTS_FILE = Path(__file__).with_name("results.json")
_results: list[dict] = []


def emit(name: str, **values) -> dict:
    """Print one ``BENCH`` line and keep it for results.json.

    Example: ``emit("backfill", ratio=2.1, spark_s=8.4, duckdb_s=4.0)``
    """
    shown = " ".join(f"{k}={_fmt(v)}" for k, v in values.items())
    print(f"BENCH {name} {shown}", flush=True)
    entry = {"name": name, **values}
    _results.append(entry)
    return entry


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its waited-for children) in MiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def write_results(path: Path = RESULTS_FILE) -> Path:
    """Merge this run's entries into results.json (a later run of a benchmark replaces its entries)."""
    previous = json.loads(path.read_text()) if path.exists() else {"results": []}
    names = {r["name"] for r in _results}
    kept = [r for r in previous.get("results", []) if r["name"] not in names]
    path.write_text(json.dumps({"machine": machine(), "results": kept + _results}, indent=2) + "\n")
    return path
