"""Benchmark: validating a bronze.readings increment, beside the backfill of the same data.

Generates ``rows`` narrow readings (Parquet, a simulator-style history folder) and ingests them
into a fresh lake; then, in the same Spark session, times (1) the one-pass runner validating
the increment the ingest added and (2) the Spark backfill of ``machine_1m`` over the same
readings (``backfill_features(..., since_last=True)``: exactly the windows those rows fall in).
``ratio`` = validate_s / backfill_s (goal: at most 0.5). With ``naive=True`` it also times plain
GX on Spark over the same prepared rows (one UnexpectedRowsExpectation per row-level check,
each its own pass): the cost the runner avoids.

    python -m bench validate --rows 10000000
    BENCH validate rows=10000000 validate_s=... backfill_s=... baseline=backfill ingest_s=... ratio=...

Example::

    from bench import validate
    validate.run(cfg, rows=200_000)
"""
from __future__ import annotations

import copy
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import emit
from sensorlake.config import Config

DEFAULT_ROWS = 2_000_000
FLEET = (("pump", ("vibration", "temperature", "pressure", "current")),
         ("fan", ("vibration", "temperature", "speed")),
         ("conveyor_motor", ("vibration", "temperature", "current", "speed")))
EQUIPMENT_PER_TYPE = 8
BACKFILL_VIEW = "machine_1m"


def _private(cfg: Config, root: Path) -> Config:
    data = copy.deepcopy(cfg.data)
    data["lake"]["root"] = str(root / "lake")
    data["lake"]["metastore_dir"] = str(root / "metastore")
    data["runtime"]["dir"] = str(root / "runtime")
    return Config(data=data, base_dir=cfg.base_dir)


def write_history(spark, folder: Path, rows: int) -> None:
    """A history folder: equipment.parquet and ``rows`` valid narrow readings in readings/ (one per second per sensor)."""
    from pyspark.sql import functions as F

    equipment, pairs = [], []
    for type_name, sensors in FLEET:
        for i in range(EQUIPMENT_PER_TYPE):
            eid = f"{type_name}-{i:02d}"
            equipment.append((eid, "plant-a", type_name, datetime(2025, 1, 1).date(), "high"))
            pairs += [(eid, s) for s in sensors]
    spark.createDataFrame(equipment, "equipment_id string, site_id string, equipment_type string, install_date date, "
                                     "criticality string").coalesce(1).write.mode("overwrite").parquet(str(folder / "eq"))
    next(p for p in (folder / "eq").glob("*.parquet")).rename(folder / "equipment.parquet")
    shutil.rmtree(folder / "eq")
    pair_df = spark.createDataFrame([(i, e, s) for i, (e, s) in enumerate(pairs)], "pair long, equipment_id string, sensor string")
    start = int(datetime(2026, 1, 5, tzinfo=timezone.utc).timestamp())
    readings = (spark.range(rows)
                .withColumn("pair", F.col("id") % len(pairs))
                .join(F.broadcast(pair_df), "pair")
                .select(F.lit("plant-a").alias("site_id"), "equipment_id", "sensor",
                        F.timestamp_seconds(F.lit(start) + (F.col("id") / len(pairs)).cast("long")).alias("event_time"),
                        (F.rand(7) * 30 + 1).alias("value"), F.lit("u").alias("unit")))
    readings.repartition(4).write.mode("overwrite").parquet(str(folder / "readings"))
    for extra in [p for p in folder.rglob("*") if p.is_file() and p.suffix != ".parquet"]:
        extra.unlink()  # Spark's .crc and _SUCCESS files: the ingest takes a folder of data files only


def naive_gx_seconds(spark, cfg: Config, table: str, since: int) -> float:
    """Plain GX on Spark: the same prepared rows, one UnexpectedRowsExpectation (one Spark pass) per row check."""
    import great_expectations as gx

    from expectations.gx_project import gx_context
    from expectations.increments import load_increment
    from expectations.runner import _prepared_rows
    from expectations.suites import suite_for

    started = time.monotonic()
    inc = load_increment(spark, cfg, table, since)
    suite = suite_for(cfg, table, inc.rows.schema)
    prepared = _prepared_rows(spark, cfg, suite, inc, datetime.now(timezone.utc))
    ctx = gx_context(cfg)
    source = ctx.data_sources.add_or_update_spark("bench_naive")
    batch = source.add_dataframe_asset("prepared").add_batch_definition_whole_dataframe("all")
    naive = gx.ExpectationSuite(name="bench_naive_readings", expectations=[
        gx.expectations.UnexpectedRowsExpectation(
            unexpected_rows_query=f"SELECT * FROM {{batch}} WHERE coalesce(({c.fail_when}), false)",
            meta={"severity": c.severity, "check": c.name})
        for c in suite.checks if c.row_level])
    batch.get_batch(batch_parameters={"dataframe": prepared}).validate(naive)
    return time.monotonic() - started


def run(cfg: Config, rows: int | None = None, naive: bool = True, keep: bool = False) -> dict:
    """Ingest ``rows`` generated readings, validate the increment; print and return the BENCH figures."""
    from expectations import validate_table
    from feature_defs import load_registry
    from sensorlake.backfill import backfill_features
    from sensorlake.ingest import ingest_path
    from sensorlake.lake.spark import build_spark_session

    rows = rows or DEFAULT_ROWS
    root = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    bench_cfg = _private(cfg, root)
    spark = build_spark_session(bench_cfg, app_name="sensorlake-bench-validate")
    try:
        import great_expectations  # noqa: F401  (its ~3 s import is not what either side measures)

        write_history(spark, root / "history", rows)
        started = time.monotonic()
        report = ingest_path(spark, bench_cfg, root / "history")
        ingest_s = time.monotonic() - started
        before = 0  # version 0 created the empty table; the ingest's MERGE added every row after it
        started = time.monotonic()
        validation = validate_table(spark, bench_cfg, "bronze.readings", since=before, gate=True)
        validate_s = time.monotonic() - started
        started = time.monotonic()
        backfill = backfill_features(spark, bench_cfg, load_registry(bench_cfg)[BACKFILL_VIEW], since_last=True)
        backfill_s = time.monotonic() - started
        figures = {"rows": validation.checked_rows, "validate_s": round(validate_s, 2), "backfill_s": round(backfill_s, 2),
                   "baseline": "backfill", "ratio": round(validate_s / backfill_s, 3), "ingest_s": round(ingest_s, 2),
                   "windows": backfill.inserted, "checks": len(validation.results)}
        if naive:
            figures["naive_gx_s"] = round(naive_gx_seconds(spark, bench_cfg, "bronze.readings", before), 2)
            figures["speedup_vs_naive"] = round(figures["naive_gx_s"] / validate_s, 2)
        assert report.written == rows, f"ingest wrote {report.written} of {rows} rows"
        return emit("validate", **figures)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
