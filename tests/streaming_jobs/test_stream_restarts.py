"""Exactly once through the restarts users meet: the broker restarted, the job cancelled and resumed
from its retained checkpoint, and stopped with a savepoint and resumed from it.

The streaming job runs on PyFlink's standalone cluster with a 2 s checkpoint interval while the
simulator produces a known stream (with every kind of bad record) at a steady rate; once the
last fault is over, the rest arrives at once. Each fault strikes once the job has written rows
and completed a checkpoint since the last one:

1. the Kafka broker is stopped and started again (same port, same log): the job's source
   reconnects, or the job fails over to its latest checkpoint;
2. the job is cancelled, and submitted again with ``flink run -s <its latest checkpoint>``;
3. the job is stopped with ``flink stop --savepointPath``, and submitted again from the savepoint.

At the end every record is accounted for exactly once, as after the TaskManager crashes of
test_sensor_features_fault.py.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from sensorlake.services import flink_cluster as flink, kafka as broker
from sensorlake.streaming.runner import (ClusterJob, rows_of_run, submit_stream_job, topic_end_offsets,
                                         wait_until_written)
from tests.streaming_jobs import known_stream as known

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]

RECORDS, RATE = 36_000, 150        # paced for up to 240 s while the three faults strike, then the rest at once
PROGRESS_TIMEOUT_S = 300


@dataclass
class RestartRun:
    stream: known.KnownStream
    bronze_rows_at_faults: dict[str, int] = field(default_factory=dict)
    resumed_from: dict[str, tuple[str, str | None]] = field(default_factory=dict)   # fault -> (path given, path restored)


def wait_for_progress(stream: known.KnownStream, job: ClusterJob, rows_before: int) -> int:
    """Wait until the job has written more bronze rows than ``rows_before`` and completed a
    checkpoint since it started; return the rows written then."""
    deadline = time.monotonic() + PROGRESS_TIMEOUT_S
    while True:
        if job.poll() is not None:
            pytest.fail(f"job {job.job_id} ended ({job.returncode}) while it should run")
        rows = rows_of_run(stream.cfg, "bronze.readings", stream.run_id)
        if rows > rows_before and flink.latest_checkpoint(stream.cfg, job.job_id):
            return rows
        if time.monotonic() > deadline:
            pytest.fail(f"no progress in {PROGRESS_TIMEOUT_S} s: {rows} bronze rows (before: {rows_before})")
        time.sleep(0.5)


def restored_path(stream: known.KnownStream, job: ClusterJob, timeout_s: float = 120) -> str | None:
    """The savepoint or checkpoint the job restored its state from, once it has (None if it never did)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path := flink.restored_from(stream.cfg, job.job_id):
            return path
        time.sleep(0.5)
    return None


def restart_broker(stream: known.KnownStream) -> None:
    broker.stop(stream.cfg)
    time.sleep(3)                  # the job's consumers and the producer see the broker gone
    broker.start(stream.cfg)


@pytest.fixture(scope="module")
def restarted(kafka, flink_cluster, spark, tmp_path_factory):
    work = tmp_path_factory.mktemp("stream-restarts")
    stream = known.KnownStream(known.stream_cfg(flink_cluster, "stream-restart-test", flink={"checkpoint_interval_s": 2}),
                               run_id="stream-restart-run", start="2025-02-01T00:00:00Z")  # a span no other test uses
    known.register_fleet(stream)
    broker.ensure_topic(stream.cfg, stream.topic)
    run = RestartRun(stream)
    log = work / "job.log"
    job = submit_stream_job(stream.cfg, stream.run_id, log)
    faults_done = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        producing = pool.submit(known.produce, stream, work, RECORDS, RATE, faults_done)
        try:
            run.bronze_rows_at_faults["broker"] = rows = wait_for_progress(stream, job, 0)
            restart_broker(stream)

            run.bronze_rows_at_faults["cancel"] = rows = wait_for_progress(stream, job, rows)
            job.cancel()
            checkpoint = flink.latest_checkpoint(stream.cfg, job.job_id)
            job = submit_stream_job(stream.cfg, stream.run_id, log, restore_from=checkpoint)
            run.resumed_from["cancel"] = (checkpoint, restored_path(stream, job))

            run.bronze_rows_at_faults["savepoint"] = wait_for_progress(stream, job, rows)
            savepoint = flink.stop_with_savepoint(stream.cfg, job.job_id)
            job = submit_stream_job(stream.cfg, stream.run_id, log, restore_from=savepoint)
            run.resumed_from["savepoint"] = (savepoint, restored_path(stream, job))
            faults_done.set()

            stream.manifest = producing.result()
            wait_until_written(stream.cfg, topic_end_offsets(stream.cfg), job, timeout_s=420)
            time.sleep(5)  # let the silver writer flush the windows the watermark closed
        finally:
            faults_done.set()
            if not broker.healthy(stream.cfg):
                broker.start(stream.cfg)   # leave the session's broker as it was
            job.cancel()
    return run


def test_each_fault_struck_mid_stream(restarted):
    valid = restarted.stream.manifest["counts"]["valid_unique_readings"]
    rows = list(restarted.bronze_rows_at_faults.values())
    assert list(restarted.bronze_rows_at_faults) == ["broker", "cancel", "savepoint"]
    assert 0 < rows[0] < rows[1] < rows[2] < valid, f"bronze rows at the faults {rows}, of {valid}: not mid-stream"


def test_the_resubmitted_jobs_restored_the_checkpoint_and_the_savepoint_they_were_given(restarted):
    for fault, (given, restored) in restarted.resumed_from.items():
        assert given and restored, f"{fault}: given {given!r}, restored {restored!r}"
        assert restored.rstrip("/").removeprefix("file:") == given.rstrip("/").removeprefix("file:"), fault


def test_bronze_holds_exactly_the_valid_readings_once(spark, restarted):
    known.assert_bronze_holds_exactly_the_valid_readings_once(spark, restarted.stream)


def test_quarantine_holds_every_bad_record_under_its_kind(spark, restarted):
    known.assert_quarantine_holds_every_bad_record_under_its_kind(spark, restarted.stream)


def test_quarantined_records_keep_their_payload_and_kafka_coordinates(spark, restarted):
    known.assert_quarantined_records_keep_their_payload_and_kafka_coordinates(spark, restarted.stream)


def test_streamed_features_equal_the_spark_computation_over_bronze(spark, restarted):
    known.assert_streamed_features_equal_the_spark_computation_over_bronze(spark, restarted.stream)
