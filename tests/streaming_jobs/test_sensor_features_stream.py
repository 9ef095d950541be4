"""The streaming job end to end on real parts: Kafka broker, PyFlink, Delta (delta-rs), Spark for the check.

A known stream with every kind of bad record goes through ``streaming_jobs/sensor_features.py``
(running unbounded, as in production, in its own process); the test waits until the writers
have committed every offset of the topic (read from the Delta log), stops the job, and
accounts for every record.
"""
from __future__ import annotations

import time

import pytest

from sensorlake.streaming.runner import start_stream_job, stop_stream_job, topic_end_offsets, wait_until_written
from tests.streaming_jobs import known_stream as known

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECORDS = 40_000


@pytest.fixture(scope="module")
def streamed(kafka, spark, tmp_path_factory):
    work = tmp_path_factory.mktemp("stream")
    stream = known.KnownStream(known.stream_cfg(kafka, "stream-test"), run_id="stream-test-run",
                               start="2024-11-01T00:00:00Z")  # a span no other test uses
    known.register_fleet(stream)
    stream.manifest = known.produce(stream, work, count=RECORDS)
    job = start_stream_job(stream.cfg, stream.run_id, work / "job.log")
    try:
        wait_until_written(stream.cfg, topic_end_offsets(stream.cfg), job, timeout_s=420)
        time.sleep(5)  # let the silver writer flush the windows the watermark closed
    finally:
        stop_stream_job(job)
    return stream


def test_bronze_holds_exactly_the_valid_readings_once(spark, streamed):
    known.assert_bronze_holds_exactly_the_valid_readings_once(spark, streamed)


def test_quarantine_holds_every_bad_record_under_its_kind(spark, streamed):
    known.assert_quarantine_holds_every_bad_record_under_its_kind(spark, streamed)


def test_quarantined_records_keep_their_payload_and_kafka_coordinates(spark, streamed):
    known.assert_quarantined_records_keep_their_payload_and_kafka_coordinates(spark, streamed)


def test_streamed_features_equal_the_spark_computation_over_bronze(spark, streamed):
    known.assert_streamed_features_equal_the_spark_computation_over_bronze(spark, streamed)
