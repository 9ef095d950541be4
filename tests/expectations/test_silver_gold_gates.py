"""Suites of tables that land later (silver.features_<view>, gold.predictions), on small Delta tables
built here with the documented column conventions."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from expectations import validate_table
from sensorlake.config import Config
from tests.expectations.conftest import T0, by_name, write_rows

pytestmark = pytest.mark.integration

FEATURES = "silver.features_test_1m"
FEATURES_DDL = ("equipment_id string, window_start timestamp, window_end timestamp, feature_set_version string, "
                "vibration__mean double, vibration__std double, vibration__min double, vibration__max double, "
                "vibration__count bigint, temperature__mean double, job_name string, run_id string, ingest_time timestamp")
PREDICTIONS_DDL = ("equipment_id string, window_end timestamp, model_name string, model_version string, "
                   "failure_probability double, predicted_rul double, job_name string, run_id string, ingest_time timestamp")


def window(i, equipment_id="eq-pump-1", start=T0, **features):
    row = {"equipment_id": equipment_id, "window_start": start + timedelta(minutes=i),
           "window_end": start + timedelta(minutes=i + 1), "feature_set_version": "v1",
           "vibration__mean": 3.0, "vibration__std": 0.5, "vibration__min": 2.0, "vibration__max": 4.0,
           "vibration__count": 120, "temperature__mean": 60.0}  # vibration at 2 Hz: 120 readings a minute
    row.update(features)
    return row


def prediction(equipment_id="eq-pump-1", minute=0, probability=0.2, version="3", **extra):
    row = {"equipment_id": equipment_id, "window_end": T0 + timedelta(minutes=minute), "model_name": "failure-lgbm",
           "model_version": version, "failure_probability": probability, "predicted_rul": 100.0}
    row.update(extra)
    return row


def streaming(cfg: Config, table: str) -> Config:
    data = copy.deepcopy(cfg.data)
    data["quality"]["streaming_tables"] = [table]
    return Config(data=data, base_dir=cfg.base_dir)


@pytest.fixture(scope="module")
def features(spark, qcfg):
    clean_version = write_rows(spark, qcfg, FEATURES, [window(i) for i in range(4)], FEATURES_DDL)
    clean = validate_table(spark, qcfg, FEATURES, data_docs=False, gate=False)
    write_rows(spark, qcfg, FEATURES, [
        window(10, vibration__count=500, temperature__mean=None),        # more readings than 2 Hz allows
        window(11, vibration__std=-1.0, temperature__mean=None),         # negative std
        window(12, vibration__mean=10.0, vibration__min=0.0, vibration__max=5.0),  # mean above max
        window(0, vibration__mean=3.5),                                  # same key as a clean window
    ], FEATURES_DDL)
    defects = validate_table(spark, qcfg, FEATURES, since=clean_version, data_docs=False, gate=False)
    return clean, defects


def test_clean_feature_windows_pass(features):
    clean, _ = features
    assert clean.passed and not clean.warnings, clean.summary()


@pytest.mark.parametrize("expectation, failing", [
    ("vibration__count_within_sampling_rate", 1), ("vibration__std_non_negative", 1),
    ("vibration__min_le_mean_le_max", 1), ("key_unique", 1),
])
def test_each_feature_defect_is_caught_by_its_row_expectation(features, expectation, failing):
    _, defects = features
    result = by_name(defects)[expectation]
    assert not result.success and result.severity == "critical" and result.failing_count == failing


def test_a_feature_null_rate_above_the_threshold_fails_with_the_observed_rate(features):
    _, defects = features
    result = by_name(defects)["temperature__mean_null_rate"]
    assert not result.success and result.observed == pytest.approx(0.5)
    assert by_name(defects)["vibration__mean_null_rate"].success


def test_a_stale_streaming_feature_table_is_a_warning_not_a_failure(spark, qcfg, features):
    report = validate_table(spark, streaming(qcfg, FEATURES), FEATURES, since=0, data_docs=False, gate=False)
    stale = by_name(report)["latest_window_end_age_s"]
    assert not stale.success and stale.severity == "warning" and stale in report.warnings
    assert "latest_window_end_age_s" not in by_name(features[0])  # only streaming tables check freshness


def test_a_fresh_streaming_feature_table_passes_freshness(spark, qcfg):
    table = "silver.features_fresh_1m"
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=3)
    write_rows(spark, qcfg, table, [window(i, start=start) for i in range(2)], FEATURES_DDL)
    report = validate_table(spark, streaming(qcfg, table), table, data_docs=False, gate=False)
    assert by_name(report)["latest_window_end_age_s"].success and report.passed


def test_predictions_pass_when_clean_and_each_defect_is_caught(spark, qcfg):
    version = write_rows(spark, qcfg, "gold.predictions", [prediction(minute=i) for i in range(3)], PREDICTIONS_DDL)
    assert validate_table(spark, qcfg, "gold.predictions", data_docs=False, gate=False).passed
    write_rows(spark, qcfg, "gold.predictions", [
        prediction(minute=10, probability=1.5),       # not a probability
        prediction(minute=11, probability=None, predicted_rul=None),  # no score at all
        prediction(minute=0),                         # second row for one key
        prediction(minute=12, version=None),          # no model version
    ], PREDICTIONS_DDL)
    report = validate_table(spark, qcfg, "gold.predictions", since=version, data_docs=False, gate=False)
    results = by_name(report)
    assert results["failure_probability_in_unit_interval"].failing_count == 1
    assert results["score_present"].failing_count == 1
    assert results["key_unique"].failing_count == 1
    assert results["model_version_not_null"].failing_count == 1
    assert results["model_name_not_null"].success and not report.passed


def test_a_table_missing_contracted_columns_fails_the_schema_expectation_alone(spark, qcfg):
    write_rows(spark, qcfg, "silver.features_broken_1m", [{"equipment_id": "e", "vibration__mean": 1.0}],
               "equipment_id string, vibration__mean double, job_name string, run_id string, ingest_time timestamp")
    report = validate_table(spark, qcfg, "silver.features_broken_1m", data_docs=False, gate=False)
    assert [r.name for r in report.results] == ["schema_matches_contract"]
    assert not report.passed and "missing column window_start" in report.results[0].sample_keys
