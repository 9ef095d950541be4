"""A known simulated stream for the streaming-job tests, and the accounting every run of the job must pass.

Each test module streams the simulator's fleet, with every kind of bad record, through
``streaming_jobs/sensor_features.py`` (locally, on the standalone cluster, or through injected
failures), then checks the same four facts against the simulator's manifest: bronze holds
exactly the valid readings once, quarantine holds every bad record under its kind with its
payload and Kafka coordinates, and the streamed features equal Spark's computation over bronze.

Every module uses a time span of its own (the session's lake is shared) and its own topic,
consumer group and run id.

Example::

    stream = KnownStream(stream_cfg(kafka, "stream-test"), run_id="stream-test-run", start="2024-11-01T00:00:00Z")
    register_fleet(stream)
    stream.manifest = produce(stream, work, count=40_000)
    ...                                                # run the job until it has written every offset
    assert_bronze_holds_exactly_the_valid_readings_once(spark, stream)
"""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from feature_defs.compile_spark import compute_view
from feature_defs.registry import load_registry
from sensorlake.config import Config
from sensorlake.equipment import load_equipment_types
from sensorlake.lake import delta_rs
from sensorlake.lake.tables import EQUIPMENT
from sensorlake.simulator.bad_records import InjectionSettings
from sensorlake.simulator.fleet import Fleet, FleetSettings
from sensorlake.simulator.history import equipment_table
from sensorlake.simulator.live import produce_live
from tests.feature_defs.engines import assert_same_features

VIEW = "machine_1m"
QUARANTINED_KINDS = ("malformed_json", "missing_key", "nan_value", "out_of_range", "unknown_sensor", "late")


def stream_cfg(cfg: Config, name: str, **sections) -> Config:
    """The session configuration with topic and consumer group ``name`` (2 partitions), the one view,
    and ``sections`` merged in, e.g. ``flink={"checkpoint_interval_s": 2}``."""
    data = {**cfg.data, "kafka": {**cfg.data["kafka"], "topic": name, "partitions": 2}}
    data["streaming"] = {**cfg.data["streaming"], "group_id": name, "views": [VIEW]}
    for section, values in sections.items():
        data[section] = {**cfg.data.get(section, {}), **values}
    return Config(data=data, base_dir=cfg.base_dir)


@dataclass
class KnownStream:
    """What a test streamed: the job's configuration, its run id, the fleet's start and the manifest."""

    cfg: Config
    run_id: str
    start: str
    manifest: dict = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return self.cfg.get("kafka.topic")

    def fleet(self) -> Fleet:
        settings = FleetSettings.from_config(self.cfg, seed=5, equipment_per_type=1, start=self.start)
        return Fleet(load_equipment_types(self.cfg.equipment_types_file), settings)


def register_fleet(stream: KnownStream) -> None:
    """Register the fleet's equipment in bronze.equipment before its readings stream in (the stream
    quarantines unknown equipment): the rows the ingest of its history writes, MERGEd through delta-rs.

    (Ingesting a history folder with Spark does the same in minutes, not a second, on a busy 2-core machine.)
    """
    equipment = equipment_table(stream.fleet())
    n, now = equipment.num_rows, dt.datetime.now(dt.timezone.utc)
    rows = pa.table({**{c: equipment.column(c) for c in equipment.column_names},
                     "source": ["simulator"] * n, "job_name": ["test-register-fleet"] * n,
                     "run_id": [stream.run_id] * n, "ingest_time": [now] * n}, schema=EQUIPMENT.arrow_schema())
    delta_rs.merge_on_key(delta_rs.ensure_table(stream.cfg, EQUIPMENT), rows, EQUIPMENT.key)


def produce(stream: KnownStream, work: Path, count: int, rate: float | None = None,
            unpaced: threading.Event | None = None) -> dict:
    """Produce ``count`` records (1 % bad, of every kind) to the stream's topic; return the manifest.

    ``rate``: records per second (None: as fast as possible) until ``unpaced`` is set, then as
    fast as possible: a test paces the stream while it injects its faults, not after.
    """
    return produce_live(stream.cfg, stream.fleet(), InjectionSettings(bad_rate=0.01, seed=5, allowed_lateness_s=60),
                        count=count, rate=rate, manifest_path=work / "manifest.json", unpaced=unpaced)


def run_rows(spark, stream: KnownStream, table: str):
    """The rows the stream's run wrote to ``table``."""
    return spark.read.format("delta").load(str(stream.cfg.table_path(table))).where(f"run_id = '{stream.run_id}'")


def assert_bronze_holds_exactly_the_valid_readings_once(spark, stream: KnownStream) -> None:
    bronze = run_rows(spark, stream, "bronze.readings")
    rows, keys = bronze.count(), bronze.select("site_id", "equipment_id", "sensor", "event_time").distinct().count()
    assert keys == rows, f"{rows - keys} duplicate reading keys in bronze.readings"
    assert rows == stream.manifest["counts"]["valid_unique_readings"]


def assert_quarantine_holds_every_bad_record_under_its_kind(spark, stream: KnownStream) -> None:
    reasons = {r["reason"]: r["n"] for r in run_rows(spark, stream, "quarantine.readings").groupBy("reason")
               .count().withColumnRenamed("count", "n").collect()}
    injected = stream.manifest["counts"]["injected"]
    expected = {k: injected[k] for k in QUARANTINED_KINDS if injected[k]}
    assert len(expected) == len(QUARANTINED_KINDS), "the stream must carry every quarantined kind"
    assert reasons == expected


def assert_quarantined_records_keep_their_payload_and_kafka_coordinates(spark, stream: KnownStream) -> None:
    rows = run_rows(spark, stream, "quarantine.readings").where(
        f"raw_payload IS NULL OR kafka_offset IS NULL OR kafka_topic <> '{stream.topic}'")
    assert rows.count() == 0
    offsets = run_rows(spark, stream, "quarantine.readings").select("kafka_partition", "kafka_offset")
    assert offsets.distinct().count() == offsets.count(), "a Kafka record was quarantined twice"


def assert_streamed_features_equal_the_spark_computation_over_bronze(spark, stream: KnownStream) -> None:
    view = load_registry(stream.cfg)[VIEW]
    silver = run_rows(spark, stream, f"silver.features_{view.name}").select(*view.output_columns)
    streamed_rows = [r.asDict() for r in silver.collect()]
    assert len(streamed_rows) > 20, "closed windows must have reached silver"
    windows = silver.select("equipment_id", "window_start").distinct()
    bronze = run_rows(spark, stream, "bronze.readings")
    batch = compute_view(bronze, view).join(windows, ["equipment_id", "window_start"]).select(*view.output_columns)
    assert_same_features(spark, view, streamed_rows, [r.asDict() for r in batch.collect()])
