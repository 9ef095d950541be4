"""The bronze suites on real Spark + Delta: clean rows pass; each defect is caught by its expectation,
copied to quarantine.readings with the expectation as reason, and counted in quality.results."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from expectations import validate_table
from sensorlake.errors import GateFailed
from tests.expectations.conftest import T0, by_name, equipment, event, reading, write_rows

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def lake(spark, qcfg):
    """Clean equipment, readings and events; versions recorded before the defects arrive."""
    write_rows(spark, qcfg, "bronze.equipment", [
        equipment("eq-pump-1", "pump", date(2025, 1, 1)),
        equipment("eq-fan-1", "fan", date(2025, 6, 1), criticality="low"),
    ])
    clean = [reading("eq-pump-1", "pressure", T0 + timedelta(seconds=i), 5.0 + i) for i in range(5)]
    clean += [reading("eq-fan-1", "speed", T0 + timedelta(seconds=i), 1500.0, unit="rpm") for i in range(5)]
    v_clean = write_rows(spark, qcfg, "bronze.readings", clean)
    e_clean = write_rows(spark, qcfg, "bronze.events", [
        event("eq-pump-1", T0, "inspection"),
        event("eq-pump-1", T0 + timedelta(hours=1), "failure", "seal_leak"),
        event("eq-pump-1", T0 + timedelta(hours=2), "maintenance"),
    ])
    return {"readings_clean": v_clean, "events_clean": e_clean}


@pytest.fixture(scope="module")
def defects(spark, qcfg, lake):
    """One commit of defective readings and one of defective events, then their increments validated."""
    future = NOW + timedelta(days=2)
    write_rows(spark, qcfg, "bronze.readings", [
        reading(None, "pressure", T0, 1.0),                                    # null key
        reading("eq-pump-1", "pressure", T0 + timedelta(minutes=1), 99.0),     # out of range (0..60 bar)
        reading("eq-pump-1", "pressure", future, 5.0),                         # in the future
        reading("eq-fan-1", "speed", datetime(2025, 3, 1, tzinfo=timezone.utc), 1000.0, unit="rpm"),  # before install
        reading("eq-pump-1", "pressure", T0, 7.0),                             # same key as a clean row
    ])
    write_rows(spark, qcfg, "bronze.events", [
        event("eq-pump-1", T0 + timedelta(hours=3), "explosion"),              # unknown event type
        event("eq-pump-1", T0 + timedelta(hours=4), "failure", None),          # failure without mode
        event("eq-pump-1", T0 + timedelta(hours=5), "failure", "seal_leak"),   # two types at one instant
        event("eq-pump-1", T0 + timedelta(hours=5), "maintenance"),
    ])
    readings = validate_table(spark, qcfg, "bronze.readings", since=lake["readings_clean"], gate=False, data_docs=False)
    events = validate_table(spark, qcfg, "bronze.events", since=lake["events_clean"], gate=False, data_docs=False)
    return readings, events


def test_clean_bronze_tables_pass_every_expectation(spark, qcfg, lake):
    for table in ("bronze.equipment", "bronze.readings", "bronze.events"):
        report = validate_table(spark, qcfg, table, data_docs=False)
        assert report.passed and not report.warnings, report.summary()
        assert report.checked_rows > 0


@pytest.mark.parametrize("expectation, equipment_id, count", [
    ("equipment_id_not_null", None, 1),
    ("value_within_physical_range", "eq-pump-1", 1),
    ("event_time_not_in_future", "eq-pump-1", 1),
    ("event_time_after_install", "eq-fan-1", 1),
    ("key_unique", "eq-pump-1", 1),
])
def test_each_reading_defect_is_caught_by_its_expectation(defects, expectation, equipment_id, count):
    readings, _ = defects
    result = by_name(readings)[expectation]
    assert not result.success and result.severity == "critical"
    assert result.failing_count == count
    assert result.sample_keys[0]["equipment_id"] == equipment_id


def test_a_reading_increment_holds_only_the_new_rows_and_checks_nothing_else(defects):
    readings, _ = defects
    assert readings.checked_rows == 5
    failed = {r.name for r in readings.critical_failures}
    assert failed == {"equipment_id_not_null", "value_within_physical_range", "event_time_not_in_future",
                      "event_time_after_install", "key_unique"}


@pytest.mark.parametrize("expectation, count", [
    ("event_type_known", 1), ("failure_has_mode", 1), ("one_event_type_per_instant", 2),
])
def test_each_event_defect_is_caught_by_its_expectation(defects, expectation, count):
    _, events = defects
    result = by_name(events)[expectation]
    assert not result.success and result.failing_count == count


def test_rows_failing_critical_row_checks_land_in_quarantine_with_the_expectation_as_reason(spark, qcfg, defects):
    rows = spark.read.format("delta").load(str(qcfg.table_path("quarantine.readings"))).where("stage = 'validate'").collect()
    reasons = {}
    for r in rows:
        reasons.setdefault((r["source"], r["reason"]), []).append(json.loads(r["raw_payload"]))
    assert len(reasons[("bronze.readings", "value_within_physical_range")]) == 1
    assert reasons[("bronze.readings", "value_within_physical_range")][0]["value"] == 99.0
    for reason in ("equipment_id_not_null", "event_time_not_in_future", "event_time_after_install", "key_unique"):
        assert len(reasons[("bronze.readings", reason)]) == 1, reason
    assert reasons[("bronze.events", "event_type_known")][0]["event_type"] == "explosion"
    assert len(reasons[("bronze.events", "failure_has_mode")]) == 1
    assert len(reasons[("bronze.events", "one_event_type_per_instant")]) == 2


def test_failing_counts_and_sample_keys_are_recorded_in_quality_results(spark, qcfg, defects):
    readings, _ = defects
    rows = spark.read.format("delta").load(str(qcfg.table_path("quality.results"))).where(
        f"run_id = '{readings.run_id}'").collect()
    recorded = {r["expectation"]: r for r in rows}
    assert set(recorded) == {r.name for r in readings.results}
    out_of_range = recorded["value_within_physical_range"]
    assert (out_of_range["success"], out_of_range["failing_count"], out_of_range["severity"]) == (False, 1, "critical")
    assert json.loads(out_of_range["sample_keys"])[0]["equipment_id"] == "eq-pump-1"
    assert recorded["value_is_a_number"]["success"] and recorded["value_is_a_number"]["table_version"] == readings.version


def test_a_failed_critical_expectation_raises_gate_failed_naming_table_expectation_count_and_keys(spark, qcfg, defects):
    readings, _ = defects
    with pytest.raises(GateFailed) as failure:
        readings.raise_if_failed()
    message = str(failure.value)
    assert failure.value.exit_code == 3
    assert "bronze.readings" in message and "value_within_physical_range" in message
    assert "1 failing row" in message and "eq-pump-1" in message


def test_validating_again_quarantines_nothing_twice(spark, qcfg, lake, defects):
    again = validate_table(spark, qcfg, "bronze.readings", since=lake["readings_clean"], gate=False, data_docs=False)
    assert again.quarantined == 0 and len(again.critical_failures) == 5
