"""Benchmark: the Spark backfill of machine_1m against DuckDB on the same SQL and the same Parquet files.

One run: the simulator writes at least ``rows`` narrow readings as Parquet (a simulator history
folder); then, each in its own subprocess (so each engine's peak memory is its own process
tree's, sampled from /proc: Spark's JVM is a child of the Python driver):

* **spark**: ``compute_view(spark.read.parquet(files), machine_1m)`` written to a Delta table
  (overwrite; the backfill's own computation and sink format);
* **duckdb**: the same view as DuckDB SQL generated from the same formula trees
  (:func:`duckdb_sql`, the stages of the Spark compiler), written with
  ``COPY ... TO`` one Parquet file.

Both produce the same feature table: the row counts must match and, for a sample of
equipment, every column must agree within 1e-6 relative (checked; the largest difference is reported as
``max_rel_diff``, ~1e-9 at most: a summation order amplified by the kurtosis of near-constant values).
Seconds exclude starting the engine (Spark's JVM and session start: ``spark_startup_s``).
``spark_cpu_s``/``duckdb_cpu_s`` are the CPU seconds (user + system, the engine's whole process
tree, from /proc) of the same timed section, and ``cpu_ratio`` their ratio: on a shared machine
wall time stretches with other jobs' load while CPU time mostly does not, so the two ratios
bracket the engines' cost; ``*_total_cpu_s`` include start-up.

    python -m bench backfill                      # 50M readings (default), a few minutes
    python -m bench backfill --rows 2000000       # quick
    python -m bench backfill --set spark.shuffle_partitions=4 --set spark.driver_memory=8g
    SENSORLAKE_BENCH_SPARK_CONF=spark.sql.files.maxPartitionBytes=256m python -m bench backfill
    BENCH backfill rows=... spark_s=... duckdb_s=... ratio=<spark/duckdb> spark_readings_per_s=... ...

Example::

    from bench import backfill
    backfill.run(cfg, rows=1_000_000)
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import emit
from bench.process_tree import sample_tree, tree_cpu_s
from sensorlake.config import Config, load_config

DEFAULT_ROWS = 50_000_000
VIEW = "machine_1m"
# Readings per simulated day per equipment of each type (one pump, fan and conveyor motor), downtime included.
READINGS_PER_EQUIPMENT_SET_DAY = 750_000
SAMPLE_EQUIPMENT = 3
RELATIVE_TOLERANCE = 1e-6  # kurtosis of a near-constant temperature amplifies summation-order differences
# Extra Spark SQL settings for the Spark side, e.g. "spark.sql.adaptive.enabled=false,spark.sql.files.maxPartitionBytes=256m".
SPARK_CONF_ENV = "SENSORLAKE_BENCH_SPARK_CONF"


# ---- DuckDB SQL from the view's formulas ---------------------------------------------------------
def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _s(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_sql(view, source: str) -> str:
    """DuckDB SQL computing ``view`` from the narrow readings relation ``source`` (same stages and formulas as compute_view).

    Example: ``duckdb.sql(duckdb_sql(registry["machine_1m"], "read_parquet('h/readings/*.parquet')"))``.
    """
    from feature_defs.formulas import AGGREGATIONS, CROSS_FUNCTIONS, PARTIALS, Ref, needed_partials, render_sql

    size, slide = view.window.size_ms, view.window.slide_ms
    where = [f"sensor IN ({', '.join(_s(s) for s in view.sensors)})", "value IS NOT NULL"]
    if view.equipment_types:
        raise NotImplementedError("equipment_types filters need bronze.equipment; the benchmark view has none")
    if view.window.kind == "tumbling":
        windowed = f"SELECT ts_ms - ts_ms % {size} AS ws_ms, site_id, equipment_id, sensor, ts_ms, v FROM dedup"
    else:
        windowed = (f"SELECT ts_ms - ts_ms % {slide} - k * {slide} AS ws_ms, site_id, equipment_id, sensor, ts_ms, v "
                    f"FROM dedup, range(0, {size // slide}) AS hops(k)")
    keys = "ws_ms, site_id, equipment_id"
    row_terms = {"v": "v", "d": "d", "t": "t", "is_last": "is_last", "centre": "centre"}
    needed = {sensor: needed_partials(aggs) for sensor, aggs in view.aggregations.items()}
    names = [p for p in PARTIALS if any(p in ps for ps in needed.values())]
    per_sensor = [f"{PARTIALS[p].agg.upper()}({render_sql(PARTIALS[p].row_expr, row_terms.__getitem__)}) AS p_{p}"
                  for p in names]
    partials = []
    for sensor, names_of_sensor in needed.items():
        for name in names_of_sensor:
            side = f"MAX(CASE WHEN sensor = {_s(sensor)} THEN p_{name} END)"
            if PARTIALS[name].agg == "count":
                side = f"COALESCE({side}, 0)"
            partials.append(f"{side} AS {_q(f'{sensor}__p_{name}')}")
    features = []
    for sensor, aggs in view.aggregations.items():
        for agg_name in aggs:
            agg = AGGREGATIONS[agg_name]

            def column(ref, sensor=sensor, agg=agg):
                col = _q(f"{sensor}__p_{ref}")
                return f"CAST({col} AS DOUBLE)" if PARTIALS[ref].dtype == "bigint" and agg.dtype != "bigint" else col

            features.append(f"{render_sql(agg.expr, column)} AS {_q(f'{sensor}__{agg_name}')}")
    crosses = []
    for cross in view.cross_features:
        func, left, right = cross.parse()
        crosses.append(f"{render_sql(CROSS_FUNCTIONS[func][0](Ref(left), Ref(right)), _q)} AS {_q(cross.name)}")
    base = [_q(c) for c in view.feature_columns if c not in {x.name for x in view.cross_features}]
    nl = ",\n    "
    return f"""WITH dedup AS (
  SELECT site_id, equipment_id, sensor, epoch_ms(event_time) AS ts_ms, MAX(value) AS v
  FROM {source}
  WHERE {' AND '.join(where)}
  GROUP BY ALL
), windowed AS (
  {windowed}
), centre AS (
  SELECT {keys}, sensor, AVG(v) AS centre, MAX(ts_ms) AS last_ms FROM windowed GROUP BY ALL
), centred AS (
  SELECT w.ws_ms, w.site_id, w.equipment_id, w.sensor, w.v, c.centre, w.v - c.centre AS d,
    CAST(w.ts_ms - w.ws_ms AS DOUBLE) / 1.0E3 AS t, w.ts_ms = c.last_ms AS is_last
  FROM windowed w JOIN centre c USING (ws_ms, site_id, equipment_id, sensor)
), per_sensor AS (
  SELECT {keys}, sensor,
    {nl.join(per_sensor)}
  FROM centred GROUP BY ALL
), partials AS (
  SELECT {keys},
    {nl.join(partials)}
  FROM per_sensor GROUP BY ALL
), features AS (
  SELECT equipment_id, site_id, make_timestamp(ws_ms * 1000) AS window_start,
    make_timestamp((ws_ms + {size}) * 1000) AS window_end,
    {_s(view.name)} AS feature_view, {_s(view.feature_set_version)} AS feature_set_version,
    {nl.join(features)}
  FROM partials
)
SELECT equipment_id, site_id, window_start, window_end, feature_view, feature_set_version,
    {nl.join(base + crosses)}
FROM features"""


# ---- one engine per subprocess --------------------------------------------------------------------
def _spark_side(cfg: Config, files: list[str], out: str) -> dict:
    from feature_defs import load_registry
    from feature_defs.compile_spark import compute_view
    from sensorlake.lake.spark import build_spark_session

    view = load_registry(cfg)[VIEW]
    began = time.monotonic()
    spark = build_spark_session(cfg, app_name="sensorlake-bench-backfill")
    for item in filter(None, os.environ.get(SPARK_CONF_ENV, "").split(",")):  # runtime SQL settings to try
        key, _, value = item.partition("=")
        spark.conf.set(key.strip(), value.strip())
    spark.range(1).count()
    startup = time.monotonic() - began
    began, cpu_before = time.monotonic(), tree_cpu_s(os.getpid())
    features = compute_view(spark.read.parquet(*files), view)
    features.write.format("delta").mode("overwrite").save(out)
    seconds, cpu = time.monotonic() - began, tree_cpu_s(os.getpid()) - cpu_before
    written = spark.read.format("delta").load(out).count()
    conf = {k: spark.conf.get(k) for k in ("spark.sql.shuffle.partitions", "spark.sql.adaptive.enabled", "spark.driver.memory")}
    conf["extra"] = os.environ.get(SPARK_CONF_ENV, "")
    spark.stop()
    return {"seconds": seconds, "compute_cpu_s": cpu, "startup_s": startup, "windows": written, "conf": conf}


def _duckdb_side(cfg: Config, files: list[str], out: str) -> dict:
    import duckdb

    from feature_defs import load_registry

    view = load_registry(cfg)[VIEW]
    listed = ", ".join(_s(f) for f in files)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    began, cpu_before = time.monotonic(), tree_cpu_s(os.getpid())
    con.execute(f"COPY ({duckdb_sql(view, f'read_parquet([{listed}])')}) TO {_s(out)} (FORMAT parquet)")
    seconds, cpu = time.monotonic() - began, tree_cpu_s(os.getpid()) - cpu_before
    written = con.execute(f"SELECT count(*) FROM read_parquet({_s(out)})").fetchone()[0]
    return {"seconds": seconds, "compute_cpu_s": cpu, "startup_s": 0.0, "windows": written, "threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}


def _run_side(side: str, files_list: Path, out: str, overrides: list[str]) -> dict:
    """Run one engine in a subprocess, sampling its process tree's RSS; return its result and peak RSS (MiB)."""
    cmd = [sys.executable, "-m", "bench.backfill", "--side", side, "--files", str(files_list), "--out", out]
    for item in overrides:
        cmd += ["--set", item]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    peak, cpu_seen = [0], {}

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], sample_tree(proc.pid, cpu_seen))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"the {side} side of the backfill benchmark failed (exit {proc.returncode})")
    result = json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])
    result["peak_rss_mb"] = peak[0] / 2**20
    result["cpu_s"] = sum(cpu_seen.values())  # whole subprocess tree, start-up included
    return result


# ---- the comparison -------------------------------------------------------------------------------
def compare_outputs(spark_out: str, duckdb_out: str, n_equipment: int = SAMPLE_EQUIPMENT) -> float:
    """Largest relative difference between the two feature tables over a sample of equipment (keys must match)."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    duck = pq.read_table(duckdb_out)
    ids = sorted(set(duck.column("equipment_id").to_pylist()))
    sample = ids[:: max(1, len(ids) // n_equipment)][:n_equipment]
    spark_df = DeltaTable(spark_out).to_pyarrow_dataset().to_table(filter=pc.field("equipment_id").isin(sample)).to_pandas()
    duck_df = duck.filter(pc.field("equipment_id").isin(sample)).to_pandas()
    for df in (spark_df, duck_df):
        for col in ("window_start", "window_end"):
            df[col] = df[col].astype("datetime64[us]") if df[col].dt.tz is None else df[col].dt.tz_convert(None).astype("datetime64[us]")
    keys = ["equipment_id", "window_start", "window_end"]
    if len(spark_df) != len(duck_df) or len(spark_df) == 0:
        raise AssertionError(f"sample rows differ: spark {len(spark_df)}, duckdb {len(duck_df)}")
    merged = spark_df.merge(duck_df, on=keys, suffixes=("_spark", "_duckdb"), validate="one_to_one")
    if len(merged) != len(spark_df):
        raise AssertionError(f"sample keys differ: {len(spark_df)} rows, {len(merged)} matched")
    worst = 0.0
    for col in spark_df.columns:
        if col in keys:
            continue
        a, b = merged[f"{col}_spark"], merged[f"{col}_duckdb"]
        if a.dtype.kind in "fi":
            a, b = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            if not np.array_equal(np.isnan(a), np.isnan(b)):
                raise AssertionError(f"{col}: NULL in one engine only")
            ok = ~np.isnan(a)
            scale = np.maximum(np.maximum(np.abs(a[ok]), np.abs(b[ok])), 1e-12)
            rel = float(np.max(np.abs(a[ok] - b[ok]) / scale)) if ok.any() else 0.0
            if rel > RELATIVE_TOLERANCE:
                raise AssertionError(f"{col}: engines differ by {rel:.3g} relative")
            worst = max(worst, rel)
        elif not (a.astype(str) == b.astype(str)).all():
            raise AssertionError(f"{col}: values differ")
    return worst


def _simulate(cfg: Config, folder: Path, rows: int) -> tuple[list[str], int]:
    from sensorlake.equipment import load_equipment_types
    from sensorlake.simulator.fleet import Fleet, FleetSettings
    from sensorlake.simulator.history import write_history

    per_type = max(1, math.ceil(rows / (2.0 * READINGS_PER_EQUIPMENT_SET_DAY)))
    days = min(2.0, rows / (per_type * READINGS_PER_EQUIPMENT_SET_DAY) * 1.05)
    fleet = Fleet(load_equipment_types(cfg.equipment_types_file),
                  FleetSettings.from_config(cfg, seed=2026, equipment_per_type=per_type, days=days))
    manifest = write_history(fleet, folder, fmt="parquet")
    files = sorted(str(p) for p in (folder / "readings").glob("*.parquet"))
    return files, int(manifest["counts"]["total_records_emitted"])


def _private(cfg: Config, root: Path) -> tuple[Config, list[str]]:
    overrides = [f"lake.root={root / 'lake'}", f"lake.metastore_dir={root / 'metastore'}", f"runtime.dir={root / 'runtime'}",
                 f"runtime.jars_dir={cfg.jars_dir}"]
    data = copy.deepcopy(cfg.data)
    data["lake"].update(root=str(root / "lake"), metastore_dir=str(root / "metastore"))
    data["runtime"].update(dir=str(root / "runtime"), jars_dir=str(cfg.jars_dir))
    return Config(data=data, base_dir=cfg.base_dir), overrides


def run(cfg: Config, rows: int | None = None, keep: bool = False) -> dict:
    """Simulate ``rows`` readings (default 50M), time both engines on them, check they agree, emit ``BENCH backfill``."""
    rows = rows or DEFAULT_ROWS
    work = Path(tempfile.mkdtemp(prefix="sensorlake-bench-backfill-"))
    try:
        began = time.monotonic()
        files, n = _simulate(cfg, work / "history", rows)
        print(f"simulated {n:,} readings in {len(files)} Parquet files in {time.monotonic() - began:.0f} s", flush=True)
        files_list = work / "files.json"
        files_list.write_text(json.dumps(files))
        _, private = _private(cfg, work)
        overrides = private + [o for o in _overrides_of(cfg) if not o.startswith(("lake.", "runtime."))]
        spark = _run_side("spark", files_list, str(work / "spark_features"), overrides)
        print(f"spark: {spark}", flush=True)
        duck = _run_side("duckdb", files_list, str(work / "duckdb_features.parquet"), overrides)
        print(f"duckdb: {duck}", flush=True)
        if spark["windows"] != duck["windows"]:
            raise AssertionError(f"the engines wrote different feature tables: spark {spark['windows']} rows, duckdb {duck['windows']}")
        worst = compare_outputs(str(work / "spark_features"), str(work / "duckdb_features.parquet"))
        return emit("backfill", rows=n, spark_s=spark["seconds"], duckdb_s=duck["seconds"],
                    ratio=spark["seconds"] / duck["seconds"],
                    spark_readings_per_s=n / spark["seconds"], duckdb_readings_per_s=n / duck["seconds"],
                    spark_peak_rss_mb=spark["peak_rss_mb"], duckdb_peak_rss_mb=duck["peak_rss_mb"],
                    spark_cpu_s=spark["compute_cpu_s"], duckdb_cpu_s=duck["compute_cpu_s"],
                    cpu_ratio=spark["compute_cpu_s"] / duck["compute_cpu_s"],
                    spark_total_cpu_s=spark["cpu_s"], duckdb_total_cpu_s=duck["cpu_s"],
                    windows=spark["windows"], spark_startup_s=spark["startup_s"], max_rel_diff=worst,
                    shuffle_partitions=spark["conf"]["spark.sql.shuffle.partitions"],
                    aqe=spark["conf"]["spark.sql.adaptive.enabled"], driver_memory=spark["conf"]["spark.driver.memory"],
                    duckdb_threads=duck["threads"], spark_sink="delta", duckdb_sink="parquet",
                    **({"spark_conf": spark["conf"]["extra"]} if spark["conf"]["extra"] else {}))
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _overrides_of(cfg: Config) -> list[str]:
    """Spark settings handed to the Spark subprocess (the ones a user may tune with --set)."""
    spark = cfg.get("spark", {}) or {}
    return [f"spark.{k}={spark[k]}" for k in ("master", "driver_memory", "shuffle_partitions") if k in spark]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="one side of the backfill benchmark (run by bench.backfill.run)")
    parser.add_argument("--side", choices=("spark", "duckdb"), required=True)
    parser.add_argument("--files", required=True, type=Path, help="JSON list of Parquet files")
    parser.add_argument("--out", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    cfg = load_config(overrides=args.overrides)
    files = json.loads(args.files.read_text())
    result = (_spark_side if args.side == "spark" else _duckdb_side)(cfg, files, args.out)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
