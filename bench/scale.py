"""Benchmark: how backfill, validation and training grow with the data (1x, 4x, 16x readings), in one run.

For each size (``base_rows`` x 1, 4, 16 by default; base 10M readings, so 10M, 40M, 160M), the
simulator writes a Parquet history (:func:`bench.backfill._simulate`, the backfill benchmark's
data: more machines per type, the same ~2 simulated days), its events go into ``bronze.events``
of a private lake, and three stages run one after the other, **each in its own subprocess**
(``python -m bench.scale --stage ...``), so each stage's wall time, CPU seconds (user + system) and
peak RSS are those of its whole process tree (the Python driver and Spark's JVM), sampled from
/proc every 0.2 s (:func:`run_measured`):

* **backfill**: ``compute_view(spark.read.parquet(files), machine_1m)`` (the backfill's own
  computation, as ``bench backfill`` times it) with the backfill's lineage columns, written into
  the lake's ``silver.features_machine_1m`` (created and version-stamped by
  :func:`sensorlake.backfill.prepare_feature_table`, as a first backfill does);
* **validate**: :func:`expectations.validate_table` on the whole feature table, as the validate
  job runs it (quality.results, Data Docs; the gate decides afterwards);
* **train**: :func:`training.train.train_task` on the ``failure`` task, as the training job runs
  it (gate on the validation, point-in-time training set in Spark, LightGBM, threshold, MLflow
  run with plots, the pyfunc model, registration as challenger/champion); MLflow logs to a
  SQLite store in the size's folder (as ``bench score`` does), no server.

Stage seconds (``<stage>_s_<k>x``) are the subprocess's wall time, start-up included (Python imports,
the JVM and the Spark session); ``<stage>_work_s_<k>x`` is the stage's own work inside it (after the
Spark session started). Growth: ``<stage>_time_<k>x_<j>x`` = time(k) / time(j) for consecutive sizes,
likewise ``_cpu_`` and ``_rss_``; linear growth gives the size ratio (4), fixed costs give less.

    python -m bench scale --set spark.driver_memory=8g      # 10M, 40M, 160M readings: hours on 2 shared cores
    python -m bench scale --base-rows 10000000 --sizes 1,4  # two sizes
    BENCH scale sizes=1x,4x,16x rows_1x=... backfill_s_1x=... backfill_cpu_s_1x=... backfill_rss_mb_1x=... ...

Training needs a fleet of a dozen machines or more (the split holds out whole machines), and the
simulator sizes the fleet from the readings asked for: below a few million readings run it at a
lower sampling rate (``simulator.rate_scale``; the fleet is then sized for rows / rate_scale) and
relax the feature null-rate threshold for the stages (sparse windows leave high moments NULL,
the validation fails and the training gate refuses), as tests/bench/test_scale_bench.py does.
A stage that fails (or is stopped) ends its size; the BENCH line keeps what was measured and names
the rest in ``missing=``.

Example::

    from bench import scale
    tiny = load_config(overrides=["simulator.rate_scale=0.02"])
    scale.run(tiny, base_rows=100_000, sizes=(1, 2), stage_overrides=["quality.feature_null_rate_max=1.0"])
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import emit
from bench.backfill import _overrides_of, _private, _simulate
from bench.process_tree import sample_tree
from sensorlake.config import Config, load_config

DEFAULT_BASE_ROWS = 10_000_000
DEFAULT_SIZES = (1, 4, 16)
STAGES = ("backfill", "validate", "train")
VIEW = "machine_1m"
TASK = "failure"
REPO = Path(__file__).resolve().parents[1]
SAMPLE_S = 0.2


# ---- measuring a subprocess ---------------------------------------------------------------------
def run_measured(cmd: list[str], what: str, env: dict | None = None) -> dict:
    """Run ``cmd`` (a Python module printing one JSON line last) and measure its whole process tree.

    Returns the JSON it printed plus ``wall_s`` (the subprocess's wall time), ``cpu_s`` (user + system
    of every process of the tree, children included) and ``peak_rss_mb`` (highest sum of the tree's
    RSS, sampled every 0.2 s). Its stderr passes through (Spark's and the stage's log).
    """
    began = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
    peak, cpu_seen = [0], {}

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], sample_tree(proc.pid, cpu_seen))
            time.sleep(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    wall = time.monotonic() - began
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}); its output:\n{stdout[-3000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{what} printed no result; its output:\n{stdout[-3000:]}")
    result = json.loads(lines[-1])
    # Children that already exited are in cpu_seen with their last sample (at most 0.2 s short).
    result.update(wall_s=wall, cpu_s=sum(cpu_seen.values()), peak_rss_mb=peak[0] / 2**20)
    return result


# ---- the stages (each runs in `python -m bench.scale --stage NAME`) -----------------------------
def _session(cfg: Config, stage: str):
    from sensorlake.lake.spark import build_spark_session

    spark = build_spark_session(cfg, app_name=f"sensorlake-bench-scale-{stage}")
    spark.range(1).count()
    return spark


def _backfill_stage(spark, cfg: Config, files: list[str]) -> dict:
    import uuid
    from datetime import datetime, timezone

    from pyspark.sql import functions as F

    from feature_defs import load_registry
    from feature_defs.compile_spark import compute_view
    from sensorlake.backfill import JOB_NAME, prepare_feature_table

    view = load_registry(cfg)[VIEW]
    spec, path = prepare_feature_table(spark, cfg, view)
    features = (compute_view(spark.read.parquet(*files), view)
                .withColumn("job_name", F.lit(JOB_NAME)).withColumn("run_id", F.lit(uuid.uuid4().hex))
                .withColumn("ingest_time", F.lit(datetime.now(timezone.utc))))
    features.select(*spec.column_names).write.format("delta").mode("append").save(path)
    return {"table": spec.name}


def _validate_stage(spark, cfg: Config, files: list[str]) -> dict:
    from expectations import validate_table

    report = validate_table(spark, cfg, f"silver.features_{VIEW}", gate=False)
    return {"checked_rows": report.checked_rows, "checks": len(report.results),
            "failed_checks": len(report.critical_failures), "warnings": len(report.warnings), "summary": report.summary()}


def _train_stage(spark, cfg: Config, files: list[str]) -> dict:
    import mlflow

    from training.config import task_config
    from training.train import train_task

    task = task_config(cfg, TASK)
    mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)
    if mlflow.get_experiment_by_name(task.experiment) is None:  # artifacts beside the store, not in the working directory
        mlflow.create_experiment(task.experiment, artifact_location=(cfg.runtime_dir / "mlartifacts").as_uri())
    report = train_task(spark, cfg, task)
    return {"train_rows": int(report.split["rows_train"]), "test_rows": int(report.split["rows_test"]),
            "features": len(report.training_set.feature_columns), "pr_auc": report.metrics.get("pr_auc"),
            "best_iteration": report.metrics.get("best_iteration"), "model_version": report.model_version,
            **{f"seconds_{k}": v for k, v in report.seconds.items()}}   # training_set, fit_and_evaluate, total


_STAGE_FUNCTIONS = {"backfill": _backfill_stage, "validate": _validate_stage, "train": _train_stage}


def _stage_main(stage: str, root: Path, overrides: list[str]) -> dict:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    cfg = load_config(overrides=overrides)
    files = json.loads((root / "files.json").read_text())
    began = time.monotonic()
    spark = _session(cfg, stage)
    startup = time.monotonic() - began
    began = time.monotonic()
    result = _STAGE_FUNCTIONS[stage](spark, cfg, files)
    result.update(work_s=time.monotonic() - began, startup_s=startup)
    spark.stop()
    return result


# ---- one size -----------------------------------------------------------------------------------
def _write_events(cfg: Config, history: Path) -> int:
    """The history's events.parquet into the lake's bronze.events (delta-rs, no Spark: not part of any stage)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import write_deltalake

    from sensorlake.lake.delta_rs import ensure_table
    from sensorlake.lake.tables import EVENTS

    path = ensure_table(cfg, EVENTS)
    events = pq.read_table(history / "events.parquet")
    n = events.num_rows
    extra = {"source": pa.array(["events.parquet"] * n), "job_name": pa.array(["ingest"] * n),
             "run_id": pa.array(["bench-scale"] * n),
             "ingest_time": pa.array([time.time_ns() // 1000] * n, pa.timestamp("us", tz="UTC"))}
    schema = EVENTS.arrow_schema()
    columns = [events.column(f.name) if f.name in events.column_names else extra[f.name] for f in schema]
    write_deltalake(path, pa.Table.from_arrays([c.cast(f.type) for c, f in zip(columns, schema)], schema=schema),
                    mode="append")
    return n


def measure_size(cfg: Config, root: Path, rows: int, user_overrides: list[str], figures: dict) -> dict:
    """Simulate ``rows`` readings under ``root`` and run the three stages on them; figures per stage into ``figures``.

    A stage that fails (or is stopped) raises; the stages measured before it stay in ``figures``.
    """
    began = time.monotonic()
    # _simulate sizes the fleet for the full sampling rate: with simulator.rate_scale < 1 (tiny runs) ask it for
    # rows / rate_scale so that the fleet has more machines (enough to split for training) and ~rows readings.
    rate = float(cfg.get("simulator.rate_scale", 1.0) or 1.0)
    files, n = _simulate(cfg, root / "history", int(rows / rate))
    simulate_s = time.monotonic() - began
    (root / "files.json").write_text(json.dumps(files))
    private_cfg, overrides = _private(cfg, root)
    overrides += [f"mlflow.tracking_uri=sqlite:///{root / 'mlflow.db'}"] + user_overrides
    events = _write_events(private_cfg, root / "history")
    print(f"simulated {n:,} readings ({len(files)} Parquet files, {events} events) in {simulate_s:.0f} s", flush=True)
    figures.update(rows=n, simulate_s=simulate_s, events=events)
    for stage in STAGES:
        cmd = [sys.executable, "-m", "bench.scale", "--stage", stage, "--root", str(root)]
        for item in overrides:
            cmd += ["--set", item]
        result = run_measured(cmd, f"the {stage} stage at {n:,} readings")
        print(f"{stage} at {n:,} readings: {json.dumps(result)}", flush=True)
        figures[stage] = result
    return figures


def growth(figures: dict[int, dict], sizes: list[int]) -> dict:
    """Ratios between consecutive sizes per stage: time, CPU and peak RSS (e.g. backfill_time_4x_1x)."""
    ratios = {}
    for stage in STAGES:
        for small, large in zip(sizes, sizes[1:]):
            if stage not in figures.get(small, {}) or stage not in figures.get(large, {}):
                continue
            a, b = figures[small][stage], figures[large][stage]
            tag = f"{large}x_{small}x"
            ratios[f"{stage}_time_{tag}"] = b["wall_s"] / a["wall_s"]
            ratios[f"{stage}_work_{tag}"] = b["work_s"] / a["work_s"]
            ratios[f"{stage}_cpu_{tag}"] = b["cpu_s"] / a["cpu_s"]
            ratios[f"{stage}_rss_{tag}"] = b["peak_rss_mb"] / a["peak_rss_mb"]
    return ratios


def run(cfg: Config, rows: int | None = None, base_rows: int | None = None, sizes=None, keep: bool = False,
        stage_overrides: list[str] = ()) -> dict:
    """Run the three stages at every size (base_rows x each of ``sizes``); emit one ``BENCH scale`` line.

    The stages get the lake of the size, the Spark settings of ``cfg`` (master, driver_memory,
    shuffle_partitions) and ``stage_overrides`` (``SECTION.KEY=VALUE``, e.g. relaxed quality thresholds
    for a tiny test whose sparse windows leave high moments NULL).
    """
    base = base_rows or rows or DEFAULT_BASE_ROWS
    sizes = sorted({int(s) for s in (sizes or DEFAULT_SIZES)})
    user_overrides = [o for o in _overrides_of(cfg) if not o.startswith(("lake.", "runtime."))] + list(stage_overrides)
    figures: dict[int, dict] = {}
    missing: list[str] = []
    load_before = os.getloadavg()[0]
    for size in sizes:
        if missing:  # a larger size cannot succeed where a smaller one failed (or was stopped for time)
            missing += [f"{stage}_{size}x" for stage in STAGES]
            continue
        root = Path(tempfile.mkdtemp(prefix=f"sensorlake-bench-scale-{size}x-"))
        figures[size] = {}
        try:
            measure_size(cfg, root, base * size, user_overrides, figures[size])
        except Exception as exc:  # report what was measured; the BENCH line names what is missing
            print(f"size {size}x stopped: {exc}", flush=True)
            missing += [f"{stage}_{size}x" for stage in STAGES if stage not in figures[size]]
        finally:
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
    values: dict = {"sizes": ",".join(f"{s}x" for s in sizes), "base_rows": base}
    for size in sizes:
        f = figures.get(size, {})
        if "rows" in f:
            values[f"rows_{size}x"] = f["rows"]
        for stage in STAGES:
            if stage not in f:
                continue
            r = f[stage]
            values[f"{stage}_s_{size}x"] = r["wall_s"]
            values[f"{stage}_work_s_{size}x"] = r["work_s"]
            values[f"{stage}_cpu_s_{size}x"] = r["cpu_s"]
            values[f"{stage}_rss_mb_{size}x"] = r["peak_rss_mb"]
        if "validate" in f:
            values[f"windows_{size}x"] = f["validate"]["checked_rows"]
            values[f"failed_checks_{size}x"] = f["validate"]["failed_checks"]
        if "train" in f:
            values[f"train_rows_{size}x"] = f["train"]["train_rows"]
            values[f"train_set_s_{size}x"] = f["train"].get("seconds_training_set", 0.0)      # Spark: training set to pandas
            values[f"train_fit_s_{size}x"] = f["train"].get("seconds_fit_and_evaluate", 0.0)  # LightGBM, threshold, metrics
            values["features"] = f["train"]["features"]
        if "simulate_s" in f:
            values[f"simulate_s_{size}x"] = f["simulate_s"]
    values.update(growth(figures, sizes))
    spark = cfg.get("spark", {}) or {}
    values["driver_memory"] = spark.get("driver_memory", "")
    values["shuffle_partitions"] = spark.get("shuffle_partitions", "")
    values["load_avg_start"] = load_before
    values["load_avg_end"] = os.getloadavg()[0]
    if missing:
        values["missing"] = ",".join(missing)
    return emit("scale", **values)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="one stage of the scale benchmark (run by bench.scale.run)")
    parser.add_argument("--stage", choices=STAGES, required=True)
    parser.add_argument("--root", required=True, type=Path, help="the size's folder (files.json, lake, runtime)")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    print(json.dumps(_stage_main(args.stage, args.root, args.overrides), default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
