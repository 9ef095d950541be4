"""The streaming job end to end on real parts: Kafka broker, PyFlink, Delta (delta-rs), Spark for the check.

A known stream with every kind of bad record goes through ``streaming_jobs/sensor_features.py``
(running unbounded, as in production, in its own process); the test waits until the writers
have committed every offset of the topic (read from the Delta log), stops the job, and
accounts for every record.
"""
from __future__ import annotations

import time

import pytest

from feature_defs.compile_spark import compute_view
from feature_defs.registry import load_registry
from sensorlake.config import Config
from sensorlake.equipment import load_equipment_types
from sensorlake.ingest import ingest_path
from sensorlake.simulator.bad_records import InjectionSettings
from sensorlake.simulator.fleet import Fleet, FleetSettings
from sensorlake.simulator.history import write_history
from sensorlake.simulator.live import produce_live
from sensorlake.streaming.runner import start_stream_job, stop_stream_job, topic_end_offsets, wait_until_written
from tests.feature_defs.engines import assert_same_features

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPIC, GROUP, RUN_ID, VIEW = "stream-test", "stream-test", "stream-test-run", "machine_1m"
RECORDS = 40_000


def stream_cfg(cfg: Config) -> Config:
    data = {**cfg.data, "kafka": {**cfg.data["kafka"], "topic": TOPIC, "partitions": 2}}
    data["streaming"] = {**cfg.data["streaming"], "group_id": GROUP, "views": [VIEW]}
    return Config(data=data, base_dir=cfg.base_dir)


@pytest.fixture(scope="module")
def streamed(kafka, spark, tmp_path_factory):
    cfg = stream_cfg(kafka)
    work = tmp_path_factory.mktemp("stream")
    types = load_equipment_types(cfg.equipment_types_file)
    settings = dict(seed=5, equipment_per_type=1, start="2024-11-01T00:00:00Z")  # a span no other test uses
    # The assets must be registered before their readings stream in (unknown equipment is quarantined).
    write_history(Fleet(types, FleetSettings.from_config(cfg, days=0.002, **settings)), work / "history")
    ingest_path(spark, cfg, work / "history")
    manifest = produce_live(cfg, Fleet(types, FleetSettings.from_config(cfg, **settings)),
                            InjectionSettings(bad_rate=0.01, seed=5, allowed_lateness_s=60), count=RECORDS,
                            manifest_path=work / "manifest.json")
    job = start_stream_job(cfg, RUN_ID, work / "job.log")
    try:
        wait_until_written(cfg, topic_end_offsets(cfg), job, timeout_s=420)
        time.sleep(5)  # let the silver writer flush the windows the watermark closed
    finally:
        stop_stream_job(job)
    return cfg, manifest


def run_rows(spark, cfg, table):
    return spark.read.format("delta").load(str(cfg.table_path(table))).where(f"run_id = '{RUN_ID}'")


def test_bronze_holds_exactly_the_valid_readings_once(spark, streamed):
    cfg, manifest = streamed
    bronze = run_rows(spark, cfg, "bronze.readings")
    assert bronze.count() == manifest["counts"]["valid_unique_readings"]
    assert bronze.select("site_id", "equipment_id", "sensor", "event_time").distinct().count() == bronze.count()


def test_quarantine_holds_every_bad_record_under_its_kind(spark, streamed):
    cfg, manifest = streamed
    reasons = {r["reason"]: r["n"] for r in run_rows(spark, cfg, "quarantine.readings").groupBy("reason")
               .count().withColumnRenamed("count", "n").collect()}
    injected = manifest["counts"]["injected"]
    expected = {k: injected[k] for k in ("malformed_json", "missing_key", "nan_value", "out_of_range",
                                          "unknown_sensor", "late") if injected[k]}
    assert len(expected) == 6, "the stream must carry every quarantined kind"
    assert reasons == expected


def test_quarantined_records_keep_their_payload_and_kafka_coordinates(spark, streamed):
    cfg, _ = streamed
    rows = run_rows(spark, cfg, "quarantine.readings").where("raw_payload IS NULL OR kafka_offset IS NULL "
                                                             f"OR kafka_topic <> '{TOPIC}'")
    assert rows.count() == 0


def test_streamed_features_equal_the_spark_computation_over_bronze(spark, streamed):
    cfg, _ = streamed
    view = load_registry(cfg)[VIEW]
    silver = run_rows(spark, cfg, f"silver.features_{view.name}").select(*view.output_columns)
    streamed_rows = [r.asDict() for r in silver.collect()]
    assert len(streamed_rows) > 20, "closed windows must have reached silver"
    windows = silver.select("equipment_id", "window_start").distinct()
    bronze = run_rows(spark, cfg, "bronze.readings")
    batch = compute_view(bronze, view).join(windows, ["equipment_id", "window_start"]).select(*view.output_columns)
    assert_same_features(spark, view, streamed_rows, [r.asDict() for r in batch.collect()])
