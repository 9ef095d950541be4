"""The end-to-end demo on embedded defaults: services, a simulated fleet, ingest, live stream, MLflow.

Each step prints what it did; the summary says where to look (Delta paths, SQL, the MLflow UI).
The live phase runs the real streaming job (PyFlink local mini cluster) against the broker.
Services stay up afterwards so the UI can be browsed; ``sensorlake services down`` stops them.

Example::

    summary = run_demo(cfg, days=1.0, live_seconds=15)
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import time
from pathlib import Path

from sensorlake import services
from sensorlake.config import Config
from sensorlake.equipment import load_equipment_types
from sensorlake.progress import Progress
from sensorlake.streaming.runner import (rows_of_run, start_stream_job, stop_stream_job, topic_end_offsets,
                                         wait_for_rows, wait_until_written)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_TASKS = ("failure", "anomaly")
PUBLIC_DATASETS = {
    "ai4i2020/ai4i2020.csv": "ai4i2020.yaml",
    "nab_machine_temperature/machine_temperature_system_failure.csv": "nab_machine_temperature.yaml",
}


class Steps:
    """Numbered, timed step headings on stdout."""

    def __init__(self, out=sys.stdout):
        self.out, self.n, self.started = out, 0, time.monotonic()

    def __call__(self, title: str) -> None:
        self.n += 1
        print(f"\n[{self.n}] {title}  (+{time.monotonic() - self.started:.0f} s)", file=self.out, flush=True)


def _simulate_history(cfg: Config, out: Path, days: float, equipment_per_type: int | None) -> dict:
    from sensorlake.simulator.bad_records import InjectionSettings
    from sensorlake.simulator.fleet import Fleet, FleetSettings
    from sensorlake.simulator.history import write_history

    fleet = Fleet(load_equipment_types(cfg.equipment_types_file),
                  FleetSettings.from_config(cfg, days=days, equipment_per_type=equipment_per_type))
    injection = InjectionSettings(bad_rate=0.002, seed=fleet.settings.seed, kinds=("nan_value", "out_of_range"))
    return write_history(fleet, out, fmt="parquet", injection=injection, progress=Progress("simulate", unit="readings"))


def _live_start(cfg: Config, readings_per_second: float, seconds: float, rate: float) -> str:
    """Early enough that the live run ends about now, but after the last streamed reading.

    The live simulator runs simulated time faster than the wall clock (never ahead of it);
    starting at or before event times an earlier demo streamed would replay them, and the
    stream would rightly quarantine them as late.
    """
    from sensorlake.simulator.live import backdated_start

    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    start = backdated_start(readings_per_second, rate, seconds, None)
    path = str(cfg.table_path("bronze.readings"))
    if DeltaTable.is_deltatable(path):
        streamed = DeltaTable(path).to_pyarrow_dataset().to_table(
            columns=["event_time"], filter=ds.field("source") == f"kafka:{cfg.get('kafka.topic')}")
        latest = pc.max(streamed.column("event_time")).as_py() if streamed.num_rows else None
        if latest is not None:
            start = max(start, latest + dt.timedelta(minutes=1))
    return start.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _produce_live(cfg: Config, seconds: float, rate: float, manifest_path: Path) -> dict:
    from sensorlake.simulator.bad_records import InjectionSettings
    from sensorlake.simulator.fleet import Fleet, FleetSettings
    from sensorlake.simulator.live import produce_live

    types = load_equipment_types(cfg.equipment_types_file)
    nominal = Fleet(types, FleetSettings.from_config(cfg)).readings_per_second
    fleet = Fleet(types, FleetSettings.from_config(cfg, start=_live_start(cfg, nominal, seconds, rate)))
    return produce_live(cfg, fleet, InjectionSettings(bad_rate=0.01, seed=fleet.settings.seed), rate=rate,
                        duration_s=seconds, manifest_path=manifest_path,
                        progress=Progress("produce", unit="records"))


def _log_pipeline_run(cfg: Config, table_versions: dict, metrics: dict, manifest: Path) -> str:
    import mlflow

    mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)
    mlflow.set_experiment("sensorlake-pipeline")
    with mlflow.start_run(run_name="demo-ingest") as run:
        mlflow.log_params({f"table_version.{k}": v for k, v in table_versions.items()})
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(manifest))
        return run.info.run_id


def run_demo(cfg: Config, days: float = 1.0, equipment_per_type: int | None = None, live_seconds: float = 15.0,
             live_rate: float = 2000.0, out=sys.stdout) -> dict:
    """Run the pipeline end to end on embedded defaults; return the figures the summary prints."""
    from delta.tables import DeltaTable

    from expectations.runner import validate_table
    from feature_defs import load_registry
    from sensorlake.backfill import backfill_features
    from sensorlake.ingest import ingest_path, load_mapping
    from sensorlake.scoring import score_windows
    from training import train_task
    from training.config import task_config
    from sensorlake.lake.catalog import register_tables
    from sensorlake.lake.spark import build_spark_session

    step = Steps(out)
    work = cfg.runtime_dir / "demo"
    step("services: Kafka (KRaft) and the MLflow tracking server on 127.0.0.1")
    for name, seconds in services.up(cfg, ["kafka", "mlflow"]).items():
        print(f"  {name}: {'already running' if seconds is None else f'healthy in {seconds:.1f} s'} at "
              f"{services.SERVICES[name].address(cfg)}", file=out)

    step(f"simulate {days:g} day(s) of fleet history (Parquet, a few bad values injected)")
    manifest = _simulate_history(cfg, work / "history", days, equipment_per_type)
    counts = manifest["counts"]
    print(f"  {counts['total_records_emitted']:,} readings, {manifest['fleet']['failures']} failures, "
          f"{manifest['fleet']['maintenance']} maintenance events -> {work / 'history'}", file=out)

    step("ingest history into the bronze Delta tables (Spark, MERGE)")
    spark = build_spark_session(cfg, app_name="sensorlake-demo")
    reports = [ingest_path(spark, cfg, work / "history")]
    data_dir = REPO_ROOT.parent / "shared" / "data"
    for relative, mapping in PUBLIC_DATASETS.items():
        if (data_dir / relative).exists():
            reports.append(ingest_path(spark, cfg, data_dir / relative, load_mapping(REPO_ROOT / "conf" / "mappings" / mapping)))
    for report in reports:
        print("  " + report.summary(), file=out)

    step("features: backfill machine_1m over the history (Spark), then its quality gate")
    span = _history_span(manifest)
    backfill = backfill_features(spark, cfg, load_registry(cfg)["machine_1m"], *span)
    print("  " + backfill.summary(), file=out)
    gate = validate_table(spark, cfg, "silver.features_machine_1m", data_docs=False)
    print("  " + gate.summary(), file=out)

    step("train: failure within the horizon (LightGBM) and the anomaly baseline, tracked and registered in MLflow "
         "(split by time: the demo fleet is too small to hold machines out as well)")
    trained = {}
    for task in DEMO_TASKS:
        config = task_config(cfg, task)
        report = train_task(spark, cfg, dataclasses.replace(config, split={**config.split, "method": "time"}))
        trained[task] = report
        print("  " + report.summary(), file=out)

    step("score in batch: each machine's latest window with the failure champion (mlflow.pyfunc.spark_udf -> gold.predictions)")
    print("  " + score_windows(spark, cfg, "failure", latest=True, data_docs=False).summary(), file=out)

    step(f"live: the simulator produces to Kafka for {live_seconds:g} s at {live_rate:,.0f} readings/s (1% bad records); "
         "the PyFlink job writes bronze, quarantine and silver")
    topic = cfg.get("kafka.topic")
    stream_run = f"demo-stream-{int(time.time())}"
    job = start_stream_job(cfg, stream_run, cfg.log_dir / "demo-stream.log")
    try:
        live = _produce_live(cfg, live_seconds, live_rate, work / "live-manifest.json")
        waited = wait_until_written(cfg, topic_end_offsets(cfg, topic), job, timeout_s=600)
        # The first windows close once the watermark passes them: an empty partition holds it
        # back until streaming.idle_timeout_s after the job started.
        wait_for_rows(cfg, "silver.features_machine_1m", stream_run, job, timeout_s=240)
        if cfg.get("streaming.scoring.tasks"):
            wait_for_rows(cfg, "gold.predictions", stream_run, job, timeout_s=240)
        time.sleep(2 * float(cfg.get("streaming.flush_interval_s")))
    finally:
        stop_stream_job(job)
    print(f"  delivered {live['counts'].get('delivered', 0):,} records to topic {topic!r} "
          f"(injected: {', '.join(f'{k}={v}' for k, v in live['counts']['injected'].items() if v)}); "
          f"the job caught up {waited:.0f} s after the producer finished (log: {cfg.log_dir / 'demo-stream.log'})", file=out)
    for table in ("bronze.readings", "quarantine.readings", "silver.features_machine_1m", "gold.predictions", "gold.alerts"):
        print(f"  {table}: {rows_of_run(cfg, table, stream_run):,} rows from this stream", file=out)

    step("MLflow: record the run with the Delta table versions it produced")
    versions = {name: DeltaTable.forPath(spark, str(cfg.table_path(name))).history(1).collect()[0]["version"]
                for name in register_tables(spark, cfg)}
    table_counts = {name: spark.sql(f"SELECT count(*) AS n FROM {name}").collect()[0]["n"] for name in versions}
    run_id = _log_pipeline_run(cfg, versions, {f"rows.{k}": v for k, v in table_counts.items()}, work / "history" / "manifest.json")

    step("summary")
    for name, n in table_counts.items():
        print(f"  {name:<22} {n:>12,} rows  v{versions[name]}  {cfg.table_path(name)}", file=out)
    reasons = spark.sql("SELECT reason, count(*) AS n FROM quarantine.readings GROUP BY reason ORDER BY n DESC").collect()
    print("  quarantine by reason: " + ", ".join(f"{r['reason']}={r['n']}" for r in reasons), file=out)
    print("\n  top-risk equipment (latest failure probability, reasons = top SHAP contributions):", file=out)
    for row in top_risk(spark, limit=5):
        print(f"    {row['equipment_id']:<14} p={row['failure_probability']:.3f}  at {row['window_end']}  "
              f"model v{row['model_version']}  {row['top_features']}", file=out)
    print(f"\n  MLflow UI:   {cfg.mlflow_tracking_uri}  (experiment sensorlake-pipeline, run {run_id}; "
          f"models {', '.join(r.model_name for r in trained.values() if r.model_name)})", file=out)
    print("  Spark SQL:   SELECT equipment_id, sensor, count(*), avg(value) FROM bronze.readings GROUP BY 1, 2", file=out)
    print(f"  No JVM:      python -c \"from deltalake import DeltaTable; "
          f"print(DeltaTable('{cfg.table_path('bronze.readings')}').to_pyarrow_dataset().count_rows())\"", file=out)
    print(f"  Logs:        {cfg.log_dir}", file=out)
    print("  Stop the services with: sensorlake services down", file=out)
    return {"tables": table_counts, "versions": versions, "mlflow_run_id": run_id, "live": live["counts"],
            "models": {t: r.model_version for t, r in trained.items()}}


def _history_span(manifest: dict) -> tuple[str, str]:
    """(start, end) of the simulated history, from its manifest."""
    parameters = manifest["parameters"]
    return parameters["start"], parameters["end"]


def top_risk(spark, limit: int = 5) -> list:
    """Each equipment's newest failure prediction, riskiest first (gold.predictions, any model version)."""
    return spark.sql(f"""
        SELECT equipment_id, window_end, failure_probability, model_version, top_features FROM (
          SELECT *, row_number() OVER (PARTITION BY equipment_id ORDER BY window_end DESC, ingest_time DESC) AS newest
          FROM gold.predictions WHERE failure_probability IS NOT NULL)
        WHERE newest = 1 ORDER BY failure_probability DESC LIMIT {int(limit)}""").collect()
