"""The end-to-end demo on embedded defaults: services, a simulated fleet, ingest, live stream, MLflow.

Each step prints what it did; the summary says where to look (Delta paths, SQL, the MLflow UI).
Services stay up afterwards so the UI can be browsed; ``sensorlake services down`` stops them.

Example::

    summary = run_demo(cfg, days=1.0, live_seconds=15)
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from sensorlake import services
from sensorlake.config import Config
from sensorlake.equipment import load_equipment_types
from sensorlake.lake.tables import TABLES
from sensorlake.progress import Progress

REPO_ROOT = Path(__file__).resolve().parents[1]
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


def _produce_live(cfg: Config, seconds: float, rate: float, manifest_path: Path) -> dict:
    from sensorlake.simulator.bad_records import InjectionSettings
    from sensorlake.simulator.fleet import Fleet, FleetSettings
    from sensorlake.simulator.live import produce_live

    fleet = Fleet(load_equipment_types(cfg.equipment_types_file), FleetSettings.from_config(cfg, start=None))
    return produce_live(cfg, fleet, InjectionSettings(bad_rate=0.01, seed=fleet.settings.seed), rate=rate,
                        duration_s=seconds, manifest_path=manifest_path,
                        progress=Progress("produce", unit="records"))


def _topic_size(cfg: Config, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": cfg.kafka_bootstrap, "group.id": "sensorlake-demo-check"})
    try:
        md = consumer.list_topics(topic, timeout=10)
        total = 0
        for p in md.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


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

    from sensorlake.ingest import ingest_path, load_mapping
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

    step(f"live: the simulator produces to Kafka for {live_seconds:g} s at {live_rate:,.0f} readings/s (1% bad records)")
    topic = cfg.get("kafka.topic")
    live = _produce_live(cfg, live_seconds, live_rate, work / "live-manifest.json")
    print(f"  delivered {live['counts'].get('delivered', 0):,} records to topic {topic!r} "
          f"(injected: {', '.join(f'{k}={v}' for k, v in live['counts']['injected'].items() if v)}); "
          f"the topic now holds {_topic_size(cfg, topic):,} records", file=out)

    step("MLflow: record the run with the Delta table versions it produced")
    versions = {name: DeltaTable.forPath(spark, str(cfg.table_path(name))).history(1).collect()[0]["version"]
                for name in TABLES if cfg.table_path(name).exists()}
    table_counts = {name: spark.sql(f"SELECT count(*) AS n FROM {name}").collect()[0]["n"] for name in versions}
    run_id = _log_pipeline_run(cfg, versions, {f"rows.{k}": v for k, v in table_counts.items()}, work / "history" / "manifest.json")

    step("summary")
    for name, n in table_counts.items():
        print(f"  {name:<22} {n:>12,} rows  v{versions[name]}  {cfg.table_path(name)}", file=out)
    reasons = spark.sql("SELECT reason, count(*) AS n FROM quarantine.readings GROUP BY reason ORDER BY n DESC").collect()
    print("  quarantine by reason: " + ", ".join(f"{r['reason']}={r['n']}" for r in reasons), file=out)
    print(f"\n  MLflow UI:   {cfg.mlflow_tracking_uri}  (experiment sensorlake-pipeline, run {run_id})", file=out)
    print("  Spark SQL:   SELECT equipment_id, sensor, count(*), avg(value) FROM bronze.readings GROUP BY 1, 2", file=out)
    print(f"  No JVM:      python -c \"from deltalake import DeltaTable; "
          f"print(DeltaTable('{cfg.table_path('bronze.readings')}').to_pyarrow_dataset().count_rows())\"", file=out)
    print(f"  Logs:        {cfg.log_dir}", file=out)
    print("  Stop the services with: sensorlake services down", file=out)
    return {"tables": table_counts, "versions": versions, "mlflow_run_id": run_id, "live": live["counts"]}
