"""The Spark backfill: windows of a range, idempotent MERGE, the incremental mark, version and duplicate rules."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from deltalake import DeltaTable

from feature_defs import FeatureDefinitionError
from feature_defs.compile_spark import compute_view
from sensorlake.backfill import backfill_features, high_water_mark, parse_time
from sensorlake.lake import delta_rs
from sensorlake.lake.tables import FEATURE_SET_VERSION_PROPERTY, READINGS, silver_spec
from tests.batch_jobs.conftest import renamed, simulate_and_ingest

pytestmark = pytest.mark.integration

T = parse_time("2025-06-01T00:00:00Z")
KEY = "equipment_id, window_start, window_end"


def table_rows(spark, cfg, view):
    path = cfg.table_path(silver_spec(view).name)
    return spark.sql(f"SELECT * FROM delta.`{path}` ORDER BY {KEY}").collect()


def table_version(cfg, view) -> int:
    return DeltaTable(str(cfg.table_path(silver_spec(view).name))).version()


def test_rerunning_a_range_leaves_the_table_and_its_version_identical(spark, cfg, registry, history):
    view = renamed(registry["machine_1m"], "bf_rerun_1m")
    start, end = T + timedelta(minutes=10, seconds=30), T + timedelta(minutes=40)
    first = backfill_features(spark, cfg, view, start, end)
    assert first.inserted == first.windows_computed > 0
    before, version = table_rows(spark, cfg, view), table_version(cfg, view)

    again = backfill_features(spark, cfg, view, start, end)

    assert (again.inserted, again.updated, again.unchanged) == (0, 0, first.windows_computed)
    assert table_version(cfg, view) == version
    assert table_rows(spark, cfg, view) == before
    assert {r["run_id"] for r in before} == {first.run_id}
    path = cfg.table_path(silver_spec(view).name)
    bounds = spark.sql(f"SELECT min(window_end) AS lo, max(window_end) AS hi, min(window_start) AS first_start "
                       f"FROM delta.`{path}`").collect()[0]
    assert [str(bounds[k]) for k in ("lo", "hi", "first_start")] == ["2025-06-01 00:11:00", "2025-06-01 00:40:00",
                                                                    "2025-06-01 00:10:00"]


def test_a_hopping_window_straddling_the_start_equals_the_one_computed_over_the_whole_history(spark, cfg, registry, history):
    view = renamed(registry["machine_10m_sliding"], "bf_edge_10m")
    start, end = T + timedelta(minutes=30, seconds=30), T + timedelta(minutes=45)
    report = backfill_features(spark, cfg, view, start, end)
    assert report.inserted > 0  # window_end 00:31 .. 00:45, each 10 minutes long
    stored = {(r["equipment_id"], r["window_start"]): r.asDict() for r in table_rows(spark, cfg, view)}
    whole = (compute_view(spark.read.format("delta").load(str(cfg.table_path(READINGS.name))), view)
             .where(f"window_start < '{start:%Y-%m-%d %H:%M:%S}' AND window_end > '{start:%Y-%m-%d %H:%M:%S}'")
             .collect())
    straddling = [r.asDict() for r in whole if r["equipment_id"] in {k[0] for k in stored}]
    assert len(straddling) >= 10  # windows ending 00:31 .. 00:40 hold 00:30:30
    for expected in straddling:
        got = stored[(expected["equipment_id"], expected["window_start"])]
        for column in view.feature_columns:
            if expected[column] is None:
                assert got[column] is None, column
            else:
                assert got[column] == pytest.approx(expected[column], rel=1e-9, abs=1e-12, nan_ok=True), column


def test_since_last_picks_up_only_newly_ingested_readings_and_advances_the_mark(spark, cfg, registry, history, tmp_path):
    view = renamed(registry["machine_1m"], "bf_since_1m")
    first = backfill_features(spark, cfg, view, since_last=True)
    bronze = DeltaTable(str(cfg.table_path(READINGS.name)))
    assert first.high_water_mark == bronze.version() == high_water_mark(cfg, view)
    rows_before = len(table_rows(spark, cfg, view))

    new_start = T + timedelta(days=1)
    manifest = simulate_and_ingest(spark, cfg, tmp_path / "more", seed=102, start=f"{new_start:%Y-%m-%dT%H:%M:%SZ}", days=0.01)
    second = backfill_features(spark, cfg, view, since_last=True)

    assert second.previous_mark == first.high_water_mark
    assert second.high_water_mark == DeltaTable(str(cfg.table_path(READINGS.name))).version()
    assert new_start <= second.start and second.end <= parse_time(manifest["parameters"]["end"]) + timedelta(minutes=1, seconds=1)
    assert second.updated == 0 and second.inserted == second.windows_computed > 0
    assert len(table_rows(spark, cfg, view)) == rows_before + second.inserted
    version = table_version(cfg, view)

    third = backfill_features(spark, cfg, view, since_last=True)
    assert third.start is None and third.windows_computed == 0 and table_version(cfg, view) == version


def test_a_changed_view_definition_is_refused_naming_both_feature_set_versions(spark, cfg, registry, history):
    old = renamed(registry["machine_1m"], "bf_changed_1m", aggregations=["mean"], cross_features={})
    start, end = T + timedelta(minutes=50), T + timedelta(minutes=52)
    backfill_features(spark, cfg, old, start, end)
    path = str(cfg.table_path(silver_spec(old).name))
    assert DeltaTable(path).metadata().configuration[FEATURE_SET_VERSION_PROPERTY] == old.feature_set_version
    version = DeltaTable(path).version()
    changed = renamed(old, "bf_changed_1m", version=2, aggregations=["mean", "max"])

    with pytest.raises(FeatureDefinitionError) as refused:
        backfill_features(spark, cfg, changed, start, end)

    assert old.feature_set_version in str(refused.value) and changed.feature_set_version in str(refused.value)
    assert "silver.features_bf_changed_1m" in str(refused.value)
    assert DeltaTable(path).version() == version


def test_a_table_the_stream_wrote_with_another_version_is_refused(spark, cfg, registry, history):
    import pyarrow as pa

    from sensorlake.lake.delta_rs import ensure_table_at, merge_on_key

    view = renamed(registry["machine_1m"], "bf_stream_1m", aggregations=["mean"], cross_features={})
    spec = silver_spec(view)
    ensure_table_at(str(cfg.table_path(spec.name)), spec.arrow_schema())   # created without the property: its rows tell
    row = {c: None for c in spec.column_names}
    row.update(equipment_id="pump-x", window_start=T, window_end=T + timedelta(minutes=1),
               feature_set_version="bf_stream_1m:v0:000000000000")
    merge_on_key(str(cfg.table_path(spec.name)), pa.Table.from_pylist([row], schema=spec.arrow_schema()), spec.key)

    with pytest.raises(FeatureDefinitionError, match="bf_stream_1m:v0:000000000000"):
        backfill_features(spark, cfg, view, T, T + timedelta(minutes=5))


def test_duplicate_readings_count_once_and_the_larger_value_wins(spark, cfg, registry):
    from pyspark.sql import functions as F

    view = renamed(registry["machine_1m"], "bf_dups_1m", aggregations=["count", "mean", "max"], cross_features={})
    at = parse_time("2025-07-01T00:00:00Z")
    rows = []
    for i in range(30):  # one reading every 2 s in 00:00:00 .. 00:01:00, vibration = i
        rows.append(("plant-a", "pump-dup", "vibration", at + timedelta(seconds=2 * i), float(i)))
    rows += [rows[3], rows[4]]                                                   # exact duplicates
    rows.append(("plant-a", "pump-dup", "vibration", at + timedelta(seconds=10), 100.0))  # same key, larger value
    table = "bronze.readings_dups"
    df = (spark.createDataFrame(rows, "site_id string, equipment_id string, sensor string, event_time timestamp, value double")
          .withColumn("unit", F.lit("mm/s")).withColumn("event_date", F.to_date("event_time"))
          .withColumn("ingest_id", F.lit("t")).withColumn("source", F.lit("test"))
          .withColumn("job_name", F.lit("test")).withColumn("run_id", F.lit("t")).withColumn("ingest_time", F.current_timestamp()))
    df.write.format("delta").mode("overwrite").partitionBy("event_date").save(str(cfg.table_path(table)))

    report = backfill_features(spark, cfg, view, at, at + timedelta(minutes=1), readings_table=table)

    (row,) = table_rows(spark, cfg, view)
    assert report.inserted == 1 and row["vibration__count"] == 30
    expected = [float(i) for i in range(30)]
    expected[5] = 100.0  # 00:00:10 is reading 5: MAX(value) of its two copies
    assert row["vibration__mean"] == pytest.approx(sum(expected) / 30) and row["vibration__max"] == 100.0


def test_a_start_not_before_the_end_is_refused(spark, cfg, registry):
    from sensorlake.errors import ConfigError

    with pytest.raises(ConfigError, match="not before"):
        backfill_features(spark, cfg, registry["machine_1m"], T, T)


def test_parse_time_reads_dates_and_utc_times():
    assert parse_time("2026-01-05") == datetime(2026, 1, 5, tzinfo=timezone.utc)
    assert parse_time("2026-01-05T01:00:00+01:00") == datetime(2026, 1, 5, tzinfo=timezone.utc)


def test_a_feature_table_the_stream_created_is_backfilled_without_a_metadata_commit(spark, cfg, registry, history):
    """The stream (delta-rs) records the view's feature_set_version when it creates the table, so a backfill
    running beside it commits rows only: a metadata change would refuse the stream's concurrent commits."""
    view = renamed(registry["machine_1m"], "bf_stream_created_1m")
    path = delta_rs.ensure_table(cfg, silver_spec(view))         # what the streaming job's silver writer does
    assert DeltaTable(path).metadata().configuration[FEATURE_SET_VERSION_PROPERTY] == view.feature_set_version

    report = backfill_features(spark, cfg, view, T + timedelta(minutes=10), T + timedelta(minutes=20))

    assert report.inserted > 0
    operations = [c["operation"] for c in DeltaTable(path).history()]
    assert operations == ["MERGE", "CREATE TABLE"], operations
