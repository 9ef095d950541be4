"""Exactly once through crashes: the TaskManager is killed (SIGKILL) twice while the job consumes a known stream.

The streaming job runs on PyFlink's standalone cluster with a 2 s checkpoint interval while the
simulator produces a known stream (with every kind of bad record) at a steady rate. Each time the
job has written some rows and completed a checkpoint since it (re)started, the TaskManager's
whole process group (its JVM and the Python workers) is killed and a new TaskManager started; the
job restarts from its latest checkpoint (restart strategy of sensorlake.streaming.job) and
replays the Kafka offsets after it. After the last kill the rest of the stream arrives at once,
while the job recovers. At the end every record is accounted for exactly once:
bronze holds exactly the valid readings, quarantine exactly the bad records by kind, and the
features equal Spark's computation over bronze.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from sensorlake.services import flink_cluster as flink, kafka as broker, process
from sensorlake.streaming.runner import (ClusterJob, rows_of_run, submit_stream_job, topic_end_offsets,
                                         wait_until_written)
from tests.streaming_jobs import known_stream as known

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]

RECORDS, RATE = 30_000, 150        # paced for up to 200 s while the two crashes strike, then the rest at once
KILLS = 2
PROGRESS_TIMEOUT_S = 300


@dataclass
class FaultRun:
    stream: known.KnownStream
    bronze_rows_at_kills: list[int]
    restores: int


def crash_taskmanager_mid_stream(stream: known.KnownStream, job: ClusterJob, rows_before: int,
                                 checkpoints_before: int) -> tuple[int, int]:
    """Once the job has written more rows than ``rows_before`` and completed a checkpoint after
    ``checkpoints_before``, SIGKILL the TaskManager and start a new one; return (rows, checkpoints) then."""
    deadline = time.monotonic() + PROGRESS_TIMEOUT_S
    while True:
        if job.poll() is not None:
            pytest.fail(f"the job ended ({job.returncode}) instead of recovering")
        rows = rows_of_run(stream.cfg, "bronze.readings", stream.run_id)
        completed = flink.checkpoint_counts(stream.cfg, job.job_id)["completed"]
        if rows > rows_before and completed > checkpoints_before:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"no progress in {PROGRESS_TIMEOUT_S} s: {rows} bronze rows (before: {rows_before}), "
                        f"{completed} checkpoints (before: {checkpoints_before})")
        time.sleep(0.5)
    flink.kill_taskmanager(stream.cfg)
    flink.restart_taskmanager(stream.cfg)
    return rows, completed


@pytest.fixture(scope="module")
def crashed(kafka, flink_cluster, spark, tmp_path_factory):
    work = tmp_path_factory.mktemp("stream-fault")
    stream = known.KnownStream(known.stream_cfg(flink_cluster, "stream-fault-test", flink={"checkpoint_interval_s": 2}),
                               run_id="stream-fault-run", start="2025-01-01T00:00:00Z")  # a span no other test uses
    known.register_fleet(stream)
    broker.ensure_topic(stream.cfg, stream.topic)
    rows_at_kills = []
    job = submit_stream_job(stream.cfg, stream.run_id, work / "job.log")
    crashes_done = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        producing = pool.submit(known.produce, stream, work, RECORDS, RATE, crashes_done)
        try:
            rows, checkpoints = 0, 0
            for _ in range(KILLS):
                rows, checkpoints = crash_taskmanager_mid_stream(stream, job, rows, checkpoints)
                rows_at_kills.append(rows)
            crashes_done.set()     # the rest of the stream arrives while the job recovers from the last crash
            stream.manifest = producing.result()
            wait_until_written(stream.cfg, topic_end_offsets(stream.cfg), job, timeout_s=420)
            time.sleep(5)  # let the silver writer flush the windows the watermark closed
            restores = flink.checkpoint_counts(stream.cfg, job.job_id)["restored"]
        finally:
            crashes_done.set()
            if not process.is_running(stream.cfg, flink.TASKMANAGER):
                flink.restart_taskmanager(stream.cfg)  # leave the session's cluster as it was
            job.cancel()
    return FaultRun(stream, rows_at_kills, restores)


def test_the_taskmanager_was_killed_twice_mid_stream(crashed):
    valid = crashed.stream.manifest["counts"]["valid_unique_readings"]
    rows = crashed.bronze_rows_at_kills
    assert len(rows) == KILLS
    assert 0 < rows[0] < rows[1] < valid, f"bronze rows at the kills {rows}, of {valid}: not mid-stream"


def test_the_job_recovered_from_a_checkpoint_after_each_kill(crashed):
    assert crashed.restores >= KILLS


def test_bronze_holds_exactly_the_valid_readings_once(spark, crashed):
    known.assert_bronze_holds_exactly_the_valid_readings_once(spark, crashed.stream)


def test_quarantine_holds_every_bad_record_under_its_kind(spark, crashed):
    known.assert_quarantine_holds_every_bad_record_under_its_kind(spark, crashed.stream)


def test_quarantined_records_keep_their_payload_and_kafka_coordinates(spark, crashed):
    known.assert_quarantined_records_keep_their_payload_and_kafka_coordinates(spark, crashed.stream)


def test_streamed_features_equal_the_spark_computation_over_bronze(spark, crashed):
    known.assert_streamed_features_equal_the_spark_computation_over_bronze(spark, crashed.stream)
