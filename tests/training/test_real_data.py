"""The public datasets through ingest, backfill, validation and training (bench/real_data.py): the pipeline
learns AI4I failures and the NAB anomaly score flags a labelled window. Floors, not the README's figures:
a broken pipeline (labels, features, split) falls far below them."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def results(spark, cfg, mlflow_server, shared_data, tmp_path_factory):
    from bench.real_data import public_datasets_config, run_pipeline

    rcfg = public_datasets_config(cfg, tmp_path_factory.mktemp("real-data"))
    rcfg.data["training"]["experiment"] = rcfg.data["training"]["registered_model"] = "trn-real-{task}"
    return run_pipeline(spark, rcfg, shared_data, random_split=False)


def test_ai4i_failures_are_learned_from_the_five_sensors_with_a_time_split(results):
    time_split = results.ai4i["time"]
    assert time_split["test_failures"] > 50
    assert time_split["f1"] > 0.5 and time_split["pr_auc"] > 0.5


def test_the_nab_anomaly_score_flags_a_labelled_window_and_alerts_sparingly(results):
    assert results.nab["windows_flagged"] >= 1
    assert results.nab["false_alerts"] <= 20
