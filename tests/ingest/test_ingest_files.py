"""History ingest into Delta: real files, real Spark + delta-spark, read back by Spark SQL and delta-rs."""
from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import pytest
from deltalake import DeltaTable

from sensorlake.errors import ConfigError, InputError
from sensorlake.ingest import ingest_path, load_mapping
from sensorlake.lake.tables import TABLES
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

MAPPINGS = REPO_ROOT / "conf" / "mappings"


def delta_rs_count(cfg, table: str, equipment_id: str) -> int:
    data = DeltaTable(str(cfg.table_path(table))).to_pyarrow_table(columns=["equipment_id"])
    return sum(1 for e in data.column("equipment_id").to_pylist() if e == equipment_id)


def spark_count(spark, table: str, equipment_id: str) -> int:
    return spark.sql(f"SELECT count(*) AS n FROM {table} WHERE equipment_id = '{equipment_id}'").collect()[0]["n"]


@pytest.fixture(scope="module")
def ai4i(spark, cfg, shared_data):
    path = shared_data / "ai4i2020" / "ai4i2020.csv"
    report = ingest_path(spark, cfg, path, load_mapping(MAPPINGS / "ai4i2020.yaml"))
    return path, report


def test_ai4i_wide_csv_lands_as_narrow_readings_read_by_spark_sql_and_delta_rs(spark, cfg, ai4i):
    path, report = ai4i
    frame = pd.read_csv(path, encoding="utf-8-sig")
    expected = len(frame) * 5  # five sensor columns, every cell valid
    assert report.read == expected and report.written == expected and report.quarantined == 0
    assert spark_count(spark, "bronze.readings", "ai4i-mill-001") == expected
    assert delta_rs_count(cfg, "bronze.readings", "ai4i-mill-001") == expected


def test_ai4i_failure_labels_become_failure_events_with_modes(spark, ai4i):
    path, report = ai4i
    frame = pd.read_csv(path, encoding="utf-8-sig")
    assert report.events_written == int(frame["Machine failure"].sum())
    modes = {r["failure_mode"] for r in spark.sql(
        "SELECT DISTINCT failure_mode FROM bronze.events WHERE equipment_id = 'ai4i-mill-001'").collect()}
    assert {"tool_wear_failure", "heat_dissipation_failure", "power_failure", "overstrain_failure"} <= modes


def test_ai4i_ordinal_becomes_minutes_from_start(spark, ai4i):
    row = spark.sql("SELECT min(event_time) AS t0, max(event_time) AS t1 FROM bronze.readings "
                    "WHERE equipment_id = 'ai4i-mill-001'").collect()[0]
    assert str(row["t0"]) == "2020-01-01 00:01:00" and (row["t1"] - row["t0"]).total_seconds() == 9999 * 60


def test_ingesting_the_same_file_twice_leaves_counts_unchanged(spark, cfg, ai4i):
    path, first = ai4i
    again = ingest_path(spark, cfg, path, load_mapping(MAPPINGS / "ai4i2020.yaml"))
    assert again.written == 0 and again.events_written == 0 and again.duplicates == first.read
    assert spark_count(spark, "bronze.readings", "ai4i-mill-001") == first.written
    assert spark_count(spark, "bronze.events", "ai4i-mill-001") == first.events_written


def test_nab_timestamped_csv_lands_and_repeated_timestamps_with_other_values_are_quarantined(spark, cfg, shared_data):
    path = shared_data / "nab_machine_temperature" / "machine_temperature_system_failure.csv"
    report = ingest_path(spark, cfg, path, load_mapping(MAPPINGS / "nab_machine_temperature.yaml"))
    frame = pd.read_csv(path)
    conflicts = int(frame.duplicated("timestamp").sum() - frame.duplicated().sum())  # same time, other value
    expected = len(frame) - int(frame.duplicated("timestamp").sum())
    assert conflicts > 0  # the real file has them: the test must see them quarantined, not dropped
    assert report.written == expected and report.reasons == {"conflicting_duplicate": conflicts}
    assert spark_count(spark, "bronze.readings", "nab-machine-001") == expected
    assert delta_rs_count(cfg, "bronze.readings", "nab-machine-001") == expected


def _jsonl_reading(equipment_id, sensor, second, value):
    return json.dumps({"site_id": "s1", "equipment_id": equipment_id, "sensor": sensor,
                       "event_time": f"2026-01-05T00:00:{second:02d}.000Z", "value": value, "unit": "x"})


def test_bad_json_lines_are_quarantined_with_their_reason_and_raw_payload(spark, cfg, tmp_path):
    # A narrow file for equipment declared by a wide mapping would need bronze.equipment: declare it first.
    spark.createDataFrame([("eq-json-1", "s1", "pump", None, "high", "test")],
                          "equipment_id string, site_id string, equipment_type string, install_date date, "
                          "criticality string, source string").createOrReplaceTempView("new_equipment")
    from sensorlake.lake.writes import upsert_rows
    upsert_rows(spark, cfg, TABLES["bronze.equipment"], spark.sql(
        "SELECT *, 'test' AS job_name, 'r' AS run_id, current_timestamp() AS ingest_time FROM new_equipment"))
    lines = [
        _jsonl_reading("eq-json-1", "pressure", 1, 3.5),
        _jsonl_reading("eq-json-1", "pressure", 1, 3.5),            # duplicate: kept once
        _jsonl_reading("eq-json-1", "pressure", 2, 99.0),           # out of range (0..60 bar)
        _jsonl_reading("eq-json-1", "pressure", 3, math.nan),       # NaN
        _jsonl_reading("eq-json-1", "humidity", 4, 1.0),            # not a pump sensor
        _jsonl_reading("eq-unknown", "pressure", 5, 1.0),           # not in bronze.equipment
        '{"site_id": "s1", "equipment_id": "eq-json-1", "sensor": "pressure", "value": 1.0}',  # no event_time
        '{"site_id": "s1", "equipment_id": "eq-json-1", "sens',      # cut short
        _jsonl_reading("eq-json-1", "pressure", 6, "high"),         # not a number
        _jsonl_reading("eq-json-1", "pressure", 7, 2.0).replace(   # 2 h ahead of the ingest clock
            "2026-01-05T00:00:07", (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")),
    ]
    path = tmp_path / "readings.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = ingest_path(spark, cfg, path)
    assert report.read == len(lines) and report.written == 1 and report.duplicates == 1
    assert dict(report.reasons) == {"out_of_range": 1, "nan_value": 1, "unknown_sensor": 1, "unknown_equipment": 1,
                                    "missing_key": 1, "malformed_json": 1, "bad_value": 1, "future_timestamp": 1}
    quarantined = {r["reason"]: r["raw_payload"] for r in spark.sql(
        "SELECT reason, raw_payload FROM quarantine.readings WHERE source = 'readings.jsonl'").collect()}
    assert quarantined["malformed_json"] == lines[7] and quarantined["nan_value"] == lines[3]
    again = ingest_path(spark, cfg, path)
    assert again.written == 0
    assert spark.sql("SELECT count(*) AS n FROM quarantine.readings WHERE source = 'readings.jsonl'").collect()[0]["n"] == 8


def test_a_missing_file_is_an_error_naming_it(spark, cfg, tmp_path):
    with pytest.raises(InputError, match="nothing-here.csv"):
        ingest_path(spark, cfg, tmp_path / "nothing-here.csv", load_mapping(MAPPINGS / "nab_machine_temperature.yaml"))


def test_a_mapping_naming_absent_columns_is_an_error_listing_them(spark, cfg, shared_data):
    path = shared_data / "nab_machine_temperature" / "machine_temperature_system_failure.csv"
    with pytest.raises(InputError, match="Torque"):
        ingest_path(spark, cfg, path, load_mapping(MAPPINGS / "ai4i2020.yaml"))


def test_a_csv_without_a_mapping_is_refused_with_a_hint(spark, cfg, shared_data):
    with pytest.raises(ConfigError, match="--mapping"):
        ingest_path(spark, cfg, shared_data / "ai4i2020" / "ai4i2020.csv")


def test_the_ingest_job_exits_non_zero_naming_a_file_it_cannot_read(spark, cfg, tmp_path, capsys):
    from batch_jobs import ingest_history

    overrides = [f"--set=lake.root={cfg.lake_root}", f"--set=runtime.jars_dir={cfg.jars_dir}",
                 f"--set=lake.metastore_dir={cfg.path('lake.metastore_dir')}"]
    code = ingest_history.main([str(tmp_path / "gone.csv"), "--mapping", str(MAPPINGS / "ai4i2020.yaml"),
                                "--no-validate", *overrides])
    assert code == 1 and "gone.csv" in capsys.readouterr().err
