"""The streaming job and a Spark backfill write silver.features_machine_1m at the same time.

The job (its own process, PyFlink's mini cluster) MERGEs the windows of a known stream into the
table every couple of seconds through delta-rs while, in this process, Spark backfills a history
of other machines-hours into the same (unpartitioned) table, one hour per MERGE. Whichever
commit loses a race is refused by Delta and runs again (sensorlake.lake.conflicts); at the end
the backfilled windows equal a single-writer backfill of the same history, and the streamed ones
equal Spark's computation over what the stream wrote to bronze, each exactly once.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from feature_defs import load_registry
from sensorlake.backfill import BackfillReport, backfill_features
from sensorlake.streaming.runner import (rows_of_run, start_stream_job, stop_stream_job, topic_end_offsets,
                                         wait_until_written)
from tests.batch_jobs.conftest import renamed, simulate_and_ingest
from tests.feature_defs.engines import assert_same_features
from tests.streaming_jobs import known_stream as known

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]

RECORDS, RATE = 24_000, 150                     # paced for up to 160 s while the backfill runs, then the rest at once
HISTORY_START = dt.datetime(2025, 5, 1, tzinfo=dt.timezone.utc)   # spans no other test uses
STREAM_START = "2025-08-01T00:00:00Z"
HOURS = 4


@dataclass
class TwoWriters:
    stream: known.KnownStream
    backfills: list[BackfillReport]
    stream_rows_during_backfill: tuple[int, int]     # the stream's silver rows when the backfill began and ended


@pytest.fixture(scope="module")
def two_writers(kafka, spark, cfg, tmp_path_factory):
    work = tmp_path_factory.mktemp("two-writers")
    simulate_and_ingest(spark, cfg, work / "history", seed=303, start=HISTORY_START.isoformat(), days=HOURS / 24)
    view = load_registry(cfg)[known.VIEW]
    silver = f"silver.features_{view.name}"
    stream = known.KnownStream(known.stream_cfg(kafka, "stream-two-writers"), run_id="stream-two-writers-run",
                               start=STREAM_START)
    known.register_fleet(stream)
    job = start_stream_job(stream.cfg, stream.run_id, work / "job.log")
    backfilled = threading.Event()
    try:
        with ThreadPoolExecutor(1) as pool:
            producing = pool.submit(known.produce, stream, work, RECORDS, RATE, backfilled)
            try:
                deadline = time.monotonic() + 300
                while (before := rows_of_run(stream.cfg, silver, stream.run_id)) == 0:   # the stream writes silver
                    assert job.poll() is None and not producing.done(), "the stream wrote no window while producing"
                    assert time.monotonic() < deadline, "the stream wrote no window in 300 s"
                    time.sleep(1)
                reports = [backfill_features(spark, cfg, view, start=HISTORY_START + dt.timedelta(hours=h),
                                             end=HISTORY_START + dt.timedelta(hours=h + 1)) for h in range(HOURS)]
                after = rows_of_run(stream.cfg, silver, stream.run_id)
            finally:
                backfilled.set()       # the rest of the stream at once: the backfill is done (or failed)
            stream.manifest = producing.result()
        wait_until_written(stream.cfg, topic_end_offsets(stream.cfg), job, timeout_s=420)
        time.sleep(5)  # let the silver writer flush the windows the watermark closed
        assert job.poll() is None, "the streaming job stopped"
    finally:
        stop_stream_job(job)
    return TwoWriters(stream, reports, (before, after))


def test_the_stream_committed_windows_while_the_backfill_merged(two_writers):
    before, after = two_writers.stream_rows_during_backfill
    assert after > before, f"the stream wrote no window during the backfill ({before} rows before and after)"
    assert all(r.inserted > 0 for r in two_writers.backfills)
    print(f"backfill MERGE attempts: {[r.attempts for r in two_writers.backfills]}")


def test_the_backfilled_windows_equal_a_single_writer_backfill(spark, cfg, two_writers):
    view = load_registry(cfg)[known.VIEW]
    alone = renamed(view, "machine_1m_single_writer")
    end = HISTORY_START + dt.timedelta(hours=HOURS)
    backfill_features(spark, cfg, alone, start=HISTORY_START, end=end)
    in_range = f"window_end > timestamp'{HISTORY_START:%Y-%m-%d %H:%M:%S}' AND window_end <= timestamp'{end:%Y-%m-%d %H:%M:%S}'"

    def rows(name: str) -> list[dict]:
        table = spark.read.format("delta").load(str(cfg.table_path(f"silver.features_{name}")))
        return [r.asDict() for r in table.where(in_range).select(*view.output_columns).collect()]

    together, single = rows(view.name), rows(alone.name)
    assert len(together) == len(single) > 0
    lineage = {"feature_view": view.name, "feature_set_version": view.feature_set_version}
    single = [{**r, **lineage} for r in single]        # the same windows under the renamed view's lineage
    assert_same_features(spark, view, together, single)


def test_bronze_holds_exactly_the_streamed_valid_readings_once(spark, two_writers):
    known.assert_bronze_holds_exactly_the_valid_readings_once(spark, two_writers.stream)


def test_streamed_windows_equal_the_spark_computation_over_bronze_once_each(spark, two_writers):
    stream = two_writers.stream
    silver = known.run_rows(spark, stream, f"silver.features_{known.VIEW}")
    assert silver.count() == silver.select("equipment_id", "window_start", "window_end").distinct().count()
    known.assert_streamed_features_equal_the_spark_computation_over_bronze(spark, stream)
