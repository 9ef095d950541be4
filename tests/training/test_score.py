"""Batch scoring: the champion of the training fixtures scores a range of windows into gold.predictions.

Reuses the session's fleet and first failure model (tests/plugins/trained_fleet.py: ``icfg``, ``fleet``,
``first``); real Spark, Delta and MLflow (spark_udf loads the model from the tracking server).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.integration

START, END = "2025-09-10T12:00:00Z", "2025-09-10T18:00:00Z"


def _predictions(spark, icfg):
    from training.dataset import to_pandas

    return to_pandas(spark.read.format("delta").load(str(icfg.table_path("gold.predictions"))))


@pytest.fixture(scope="module")
def scored(spark, icfg, first):
    """One scoring run of (START, END] and the table as it then stands."""
    from sensorlake.scoring import score_windows

    report = score_windows(spark, icfg, "failure", start=START, end=END, data_docs=False)
    return report, _predictions(spark, icfg)


def test_scoring_writes_one_row_per_window_of_the_range_with_the_champions_name_and_version(spark, icfg, first, scored):
    from pyspark.sql import functions as F

    report, rows = scored
    key = ["equipment_id", "window_end", "model_name", "model_version"]
    assert not rows.duplicated(key).any()
    silver = (spark.read.format("delta").load(str(icfg.table_path("silver.features_machine_1m")))
              .where(F.col("window_end") > F.lit(START).cast("timestamp")).where(F.col("window_end") <= F.lit(END).cast("timestamp")))
    assert len(rows) == silver.count() == report.rows_scored == report.inserted > 0
    assert set(rows["model_name"]) == {"trn-it-failure"} and set(rows["model_version"]) == {first.model_version}
    assert rows["window_end"].min() > pd.Timestamp(START) and rows["window_end"].max() <= pd.Timestamp(END)
    assert set(rows["task"]) == {"failure"} and set(rows["job_name"]) == {"score"}
    assert set(rows["run_id"]) == {report.run_id} and rows["ingest_time"].notna().all()


def test_failure_probabilities_lie_in_the_unit_interval_and_equal_the_in_process_model_on_the_training_features(icfg, first, scored):
    import mlflow

    _, rows = scored
    p = rows["failure_probability"].to_numpy()
    assert np.all((p >= 0) & (p <= 1)) and p.std() > 0.01
    assert rows["predicted_rul"].isna().all() and rows["anomaly_score"].isna().all()
    # the training set's rows (built over the whole history) vs the scored rows (read from a margin before START)
    ts = first.training_set
    mlflow.set_tracking_uri(icfg.mlflow_tracking_uri)
    champion = mlflow.pyfunc.load_model(f"models:/trn-it-failure/{first.model_version}")
    both = rows.merge(ts.frame, on=["equipment_id", "window_end"], how="inner")
    assert len(both) > 0.8 * len(rows), "training drops only down windows"
    expected = np.asarray(champion.predict(both[ts.feature_columns]))
    np.testing.assert_allclose(both["failure_probability"].to_numpy(), expected, rtol=1e-9, atol=1e-12)


def test_top_features_name_three_real_feature_columns_with_signed_shap_values(first, scored):
    _, rows = scored
    features = set(first.training_set.feature_columns)
    for text in rows["top_features"]:
        parts = [item.rsplit(":", 1) for item in text.split(";")]
        assert len(parts) == 3
        assert {name for name, _ in parts} <= features
        values = [float(v) for _, v in parts]
        assert all(v[0] in "+-" for _, v in parts)
        assert [abs(v) for v in values] == sorted((abs(v) for v in values), reverse=True)


def test_the_gold_predictions_suite_passed_on_the_rows_written(spark, icfg, scored):
    from expectations.gates import latest_validation_passed
    from expectations.runner import last_validated_version
    from sensorlake.lake.delta_log import table_version

    report, _ = scored
    assert latest_validation_passed(spark, icfg, "gold.predictions")
    assert last_validated_version(spark, icfg, "gold.predictions") == report.table_version_after == table_version(icfg, "gold.predictions")


def test_rescoring_the_same_range_or_the_latest_windows_writes_nothing(spark, icfg, scored):
    from sensorlake.lake.delta_log import table_version
    from sensorlake.scoring import score_windows

    report, rows = scored
    before = table_version(icfg, "gold.predictions")
    again = score_windows(spark, icfg, "failure", start=START, end=END, data_docs=False)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, report.rows_scored)
    latest = score_windows(spark, icfg, "failure", latest=True, data_docs=False)
    assert latest.rows_scored == rows["equipment_id"].nunique() == latest.unchanged
    assert table_version(icfg, "gold.predictions") == before
    after = _predictions(spark, icfg)
    order = ["equipment_id", "window_end"]
    pd.testing.assert_frame_equal(rows.sort_values(order).reset_index(drop=True),
                                  after.sort_values(order).reset_index(drop=True))


def test_scoring_without_a_champion_says_to_train_first(spark, icfg):
    import dataclasses

    from sensorlake.errors import InputError
    from sensorlake.scoring import score_windows
    from training.config import task_config

    task = dataclasses.replace(task_config(icfg, "failure"), registered_model="trn-it-never-trained")
    with pytest.raises(InputError, match="train it first"):
        score_windows(spark, icfg, task, start=START, end=END)
