"""A simulated history, bad records included, through ingest: every record accounted for."""
from __future__ import annotations

import pytest
from deltalake import DeltaTable

from sensorlake.equipment import load_equipment_types
from sensorlake.ingest import ingest_path
from sensorlake.simulator.bad_records import InjectionSettings
from sensorlake.simulator.fleet import Fleet, FleetSettings
from sensorlake.simulator.history import write_history

pytestmark = pytest.mark.integration

QUARANTINED_KINDS = ("malformed_json", "missing_key", "nan_value", "out_of_range", "unknown_sensor")


def simulate(cfg, out, fmt, seed, start):
    """A short history of three equipment; each test simulates its own time span, so keys never collide."""
    types = load_equipment_types(cfg.equipment_types_file)
    fleet = Fleet(types, FleetSettings.from_config(cfg, seed=seed, equipment_per_type=1, days=0.08, start=start))
    return write_history(fleet, out, fmt=fmt, injection=InjectionSettings(bad_rate=0.01, seed=seed))


def bronze_count_in_span(spark, manifest) -> int:
    start, end = manifest["parameters"]["start"], manifest["parameters"]["end"]
    return spark.sql(f"SELECT count(*) AS n FROM bronze.readings WHERE event_time >= '{start}' "
                     f"AND event_time < '{end}' AND site_id LIKE 'plant-%'").collect()[0]["n"]


@pytest.fixture(scope="module")
def jsonl_history(spark, cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("history-jsonl")
    manifest = simulate(cfg, out, "jsonl", seed=7, start="2025-03-01T00:00:00Z")
    report = ingest_path(spark, cfg, out)
    return manifest, report


def test_every_injected_bad_record_is_quarantined_under_its_kind(jsonl_history):
    manifest, report = jsonl_history
    injected = manifest["counts"]["injected"]
    assert all(injected[k] > 0 for k in QUARANTINED_KINDS), "the simulation must inject every kind"
    assert dict(report.reasons) == {k: injected[k] for k in QUARANTINED_KINDS}


def test_valid_late_and_out_of_order_readings_land_once_and_duplicates_count_once(jsonl_history):
    manifest, report = jsonl_history
    counts = manifest["counts"]
    assert report.read == counts["total_records_emitted"]
    # Batch ingest has no watermark: a record the stream would call late is an ordinary reading.
    assert report.written == counts["valid_unique_readings"] + counts["late_readings"]
    assert report.duplicates == counts["injected"]["duplicate"]


def test_bronze_holds_the_simulated_equipment_and_events(spark, jsonl_history):
    manifest, report = jsonl_history
    equipment = {r["equipment_id"] for r in spark.sql("SELECT equipment_id FROM bronze.equipment").collect()}
    assert set(manifest["fleet"]["per_equipment"]) <= equipment
    assert bronze_count_in_span(spark, manifest) == report.written


def test_parquet_history_reads_the_same_through_spark_sql_and_delta_rs(spark, cfg, tmp_path):
    manifest = simulate(cfg, tmp_path / "h", "parquet", seed=11, start="2025-04-01T00:00:00Z")
    report = ingest_path(spark, cfg, tmp_path / "h")
    assert report.written == manifest["counts"]["valid_unique_readings"]
    assert dict(report.reasons) == {k: v for k, v in manifest["counts"]["injected"].items() if v}
    start, end = (pd_ts(manifest["parameters"][k]) for k in ("start", "end"))
    rows = DeltaTable(str(cfg.table_path("bronze.readings"))).to_pyarrow_table(columns=["event_time", "site_id"]).to_pandas()
    by_delta_rs = int(((rows.event_time >= start) & (rows.event_time < end) & rows.site_id.str.startswith("plant-")).sum())
    assert bronze_count_in_span(spark, manifest) == by_delta_rs == report.written


def pd_ts(text):
    import pandas as pd

    return pd.Timestamp(text)
