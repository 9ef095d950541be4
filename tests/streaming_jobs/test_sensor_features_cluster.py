"""The streaming job submitted with ``flink run -py`` to PyFlink's standalone cluster writes the same rows as the local run.

The job file goes to the jobmanager exactly as the README tells a user (``flink run -d -py
streaming_jobs/sensor_features.py -- --config ...``): the client and the taskmanager's Python
workers run the venv's Python (``python.client.executable`` / ``python.executable`` from the
cluster's configuration and the job's), where the project is installed, so nothing is shipped
with ``-pyfs``. The same known stream and the same accounting as the local test.
"""
from __future__ import annotations

import time

import pytest

from sensorlake.services import flink_cluster as flink
from sensorlake.streaming.runner import submit_stream_job, topic_end_offsets, wait_until_written
from tests.streaming_jobs import known_stream as known

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.slow]

RECORDS = 30_000


@pytest.fixture(scope="module")
def streamed(kafka, flink_cluster, spark, tmp_path_factory):
    work = tmp_path_factory.mktemp("stream-cluster")
    stream = known.KnownStream(known.stream_cfg(flink_cluster, "stream-cluster-test"), run_id="stream-cluster-run",
                               start="2024-12-01T00:00:00Z")  # a span no other test uses
    known.register_fleet(stream)
    stream.manifest = known.produce(stream, work, count=RECORDS)
    job = submit_stream_job(stream.cfg, stream.run_id, work / "job.log")
    try:
        wait_until_written(stream.cfg, topic_end_offsets(stream.cfg), job, timeout_s=420)
        time.sleep(5)  # let the silver writer flush the windows the watermark closed
        assert flink.job_details(stream.cfg, job.job_id)["state"] == "RUNNING"
    finally:
        job.cancel()
    return stream


def test_the_job_ran_on_the_standalone_cluster(streamed):
    jobs = [j for j in flink.jobs_overview(streamed.cfg) if j["name"] == f"sensorlake-stream {streamed.run_id}"]
    assert [j["state"] for j in jobs] == ["CANCELED"]


def test_bronze_holds_exactly_the_valid_readings_once(spark, streamed):
    known.assert_bronze_holds_exactly_the_valid_readings_once(spark, streamed)


def test_quarantine_holds_every_bad_record_under_its_kind(spark, streamed):
    known.assert_quarantine_holds_every_bad_record_under_its_kind(spark, streamed)


def test_quarantined_records_keep_their_payload_and_kafka_coordinates(spark, streamed):
    known.assert_quarantined_records_keep_their_payload_and_kafka_coordinates(spark, streamed)


def test_streamed_features_equal_the_spark_computation_over_bronze(spark, streamed):
    known.assert_streamed_features_equal_the_spark_computation_over_bronze(spark, streamed)
