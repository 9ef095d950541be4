"""The suites as declarations: every expectation has a severity, ranges come from the equipment types."""
from __future__ import annotations

import pytest
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType, TimestampType

from expectations import CRITICAL, WARNING, Check, build_gx_suite, suite_for
from expectations.increments import parse_since
from sensorlake.errors import ConfigError

FIXED = ("bronze.readings", "bronze.events", "bronze.equipment", "quarantine.readings")
_TYPES = {"string": StringType(), "timestamp": TimestampType(), "double": DoubleType(), "bigint": LongType()}


def schema(ddl: str) -> StructType:
    """A StructType from 'name type, ...' without a Spark session."""
    return StructType([StructField(n, _TYPES[t]) for n, t in (part.split() for part in ddl.split(","))])


FEATURES_SCHEMA = schema(
    "equipment_id string, window_start timestamp, window_end timestamp, feature_set_version string, "
    "vibration__mean double, vibration__min double, vibration__max double, vibration__std double, vibration__count bigint")


@pytest.mark.parametrize("table", FIXED)
def test_every_expectation_of_a_gx_suite_carries_its_severity_in_meta(cfg, table):
    gx_suite = build_gx_suite(suite_for(cfg, table))
    assert gx_suite.name == table and gx_suite.expectations
    assert {e.meta["severity"] for e in gx_suite.expectations} <= {CRITICAL, WARNING}
    assert all(e.meta["definition"] for e in gx_suite.expectations)


def test_readings_suite_checks_schema_keys_ranges_time_and_uniqueness(cfg):
    names = {c.name for c in suite_for(cfg, "bronze.readings").all_checks}
    assert {"schema_matches_contract", "site_id_not_null", "equipment_id_not_null", "sensor_not_null",
            "event_time_not_null", "value_within_physical_range", "event_time_not_in_future",
            "event_time_after_install", "key_unique"} <= names


def test_events_suite_knows_the_event_types_and_requires_failure_modes(cfg):
    suite = suite_for(cfg, "bronze.events")
    assert "'failure', 'maintenance', 'inspection'" in suite.checks_by_name["event_type_known"].fail_when
    assert suite.checks_by_name["failure_has_mode"].severity == CRITICAL


def test_feature_suite_follows_the_columns_of_the_view(cfg):
    suite = suite_for(cfg, "silver.features_vibration_1m", FEATURES_SCHEMA)
    names = set(suite.checks_by_name)
    assert {"vibration__mean_null_rate", "vibration__count_null_rate", "vibration__std_non_negative",
            "vibration__min_le_mean_le_max", "vibration__count_within_sampling_rate", "key_unique"} <= names
    assert "latest_window_end_age_s" not in names  # only for quality.streaming_tables
    # vibration samples at 2 Hz (equipment_types.yaml): the ceiling is computed from that rate
    assert "2.0 * (unix_seconds(window_end)" in suite.checks_by_name["vibration__count_within_sampling_rate"].fail_when


def test_predictions_suite_bounds_probabilities_and_requires_model_identity(cfg):
    suite = suite_for(cfg, "gold.predictions", schema(
        "equipment_id string, window_end timestamp, model_name string, model_version string, failure_probability double"))
    assert {"model_name_not_null", "model_version_not_null", "failure_probability_in_unit_interval",
            "key_unique"} <= set(suite.checks_by_name)


def test_a_table_without_a_suite_is_refused_naming_the_gated_tables(cfg):
    with pytest.raises(ConfigError, match="no quality suite for table 'bronze.nothing'"):
        suite_for(cfg, "bronze.nothing")


def test_a_check_without_severity_or_definition_is_refused():
    with pytest.raises(ValueError, match="severity"):
        Check("x_ok", "fatal", "x", fail_when="x < 0")
    with pytest.raises(ValueError, match="exactly one"):
        Check("x_ok", CRITICAL, "x")


def test_since_accepts_a_version_a_time_or_last():
    assert parse_since("12") == 12 and parse_since("last") == "last" and parse_since(None) is None
    assert parse_since("2026-01-05T00:00:00Z").isoformat() == "2026-01-05T00:00:00+00:00"
    with pytest.raises(ConfigError, match="neither"):
        parse_since("yesterday")
