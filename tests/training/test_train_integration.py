"""End to end on a small simulated fleet: simulate -> ingest -> backfill -> validate -> train -> MLflow registry.

Real Spark, Delta and a real MLflow tracking server (the ``mlflow_server`` fixture); the lake is
private to the training integration tests (conftest: ``icfg``, ``fleet``, ``first``) and the fleet
lives in September 2025.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.integration


# The fleet, its lake (icfg) and the first failure model (first) are session fixtures in conftest.py.
def test_the_first_failure_model_is_registered_as_challenger_and_champion_and_returns_probabilities(icfg, fleet, first):
    import mlflow
    from mlflow import MlflowClient

    assert fleet["fleet"]["failures"] >= 15
    client = MlflowClient(icfg.mlflow_tracking_uri)
    name = "trn-it-failure"
    assert client.get_model_version_by_alias(name, "challenger").version == first.model_version
    assert client.get_model_version_by_alias(name, "champion").version == first.model_version
    assert first.promoted and first.promotion_reason == "no champion yet"

    ts = first.training_set
    test_rows = ts.frame[ts.frame["window_end"] > first.split["cutoff"]]
    mlflow.set_tracking_uri(icfg.mlflow_tracking_uri)
    champion = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    scores = np.asarray(champion.predict(test_rows))
    assert scores.shape == (len(test_rows),) and np.all((scores >= 0) & (scores <= 1))
    assert scores.std() > 0.01, "a model that learned something does not give every window one probability"
    assert champion.metadata.metadata["threshold"] == pytest.approx(first.metrics["threshold"])
    labels = test_rows["fails_within"]
    known = labels.notna().to_numpy()
    assert first.metrics["pr_auc"] > labels[known].mean() + 0.05, "better than the base rate of failing windows"


def test_the_run_records_pinned_inputs_metrics_plots_and_the_promotion(icfg, first):
    from mlflow import MlflowClient
    from deltalake import DeltaTable

    client = MlflowClient(icfg.mlflow_tracking_uri)
    run = client.get_run(first.run_id)
    sources = {}
    for item in run.inputs.dataset_inputs:
        if item.dataset.source_type == "delta_table":
            sources[item.dataset.name] = json.loads(item.dataset.source)
    silver = str(icfg.table_path("silver.features_machine_1m"))
    version = DeltaTable(silver).version()
    assert sources[f"silver.features_machine_1m@v{version}"]["path"] == silver
    assert run.data.params["input_version.silver.features_machine_1m"] == str(version)
    assert run.data.params["input_version.bronze.events"] == str(first.pins["bronze.events"])
    contexts = {i.dataset.name: [t.value for t in i.tags if t.key == "mlflow.data.context"] for i in run.inputs.dataset_inputs}
    assert contexts["failure-training"] == ["training"] and contexts["failure-evaluation"] == ["evaluation"]
    for metric in ("pr_auc", "roc_auc", "f1", "precision_at_budget", "failure_recall", "threshold",
                   "promotion.challenger_pr_auc"):
        assert metric in run.data.metrics, metric
    assert run.data.params["horizon"] == "1:00:00" and run.data.params["split.method"] == "time_group"
    artifacts = {a.path for a in client.list_artifacts(first.run_id, "plots")}
    assert {"plots/pr_curve.png", "plots/calibration.png", "plots/feature_importance.png"} <= artifacts
    assert run.data.tags["promotion.decision"] == "promoted"


def test_a_worse_model_becomes_challenger_but_not_champion_and_the_comparison_is_recorded(spark, icfg, first):
    from mlflow import MlflowClient

    from training import train_task
    from training.config import task_config

    import dataclasses

    worse = dataclasses.replace(task_config(icfg, "failure"),
                                lightgbm={**task_config(icfg, "failure").lightgbm, "min_data_in_leaf": 10 ** 9})
    report = train_task(spark, icfg, worse, training_set=first.training_set, run_name="constant")
    client = MlflowClient(icfg.mlflow_tracking_uri)
    name = "trn-it-failure"
    assert not report.promoted
    assert client.get_model_version_by_alias(name, "champion").version == first.model_version
    assert client.get_model_version_by_alias(name, "challenger").version == report.model_version != first.model_version
    run = client.get_run(report.run_id)
    assert run.data.tags["promotion.decision"] == "kept_champion"
    assert run.data.tags["promotion.champion_version"] == first.model_version
    assert run.data.metrics["promotion.champion_pr_auc"] == pytest.approx(first.metrics["pr_auc"])
    assert run.data.metrics["promotion.challenger_pr_auc"] < run.data.metrics["promotion.champion_pr_auc"]
    tags = client.get_model_version(name, report.model_version).tags
    assert tags["promotion.decision"] == "kept_champion"


def test_rul_mode_and_anomaly_tasks_train_from_configuration_alone(spark, icfg, first):
    import mlflow

    from training import train_task

    mlflow.set_tracking_uri(icfg.mlflow_tracking_uri)
    ts = first.training_set
    sample = ts.frame[ts.frame["window_end"] > first.split["cutoff"]].head(200)
    rul = train_task(spark, icfg, "rul", training_set=ts)
    assert {"rmse", "mae", "phm08_score", "phm08_score_mean"} <= set(rul.metrics) and rul.metrics["rmse"] < 3.0
    hours = np.asarray(mlflow.pyfunc.load_model("models:/trn-it-rul@champion").predict(sample))
    assert hours.shape == (len(sample),) and np.all(hours > -0.5) and np.all(hours < 3.5)

    mode = train_task(spark, icfg, "mode", training_set=ts)
    assert {"macro_f1", "accuracy"} <= set(mode.metrics)
    probabilities = mlflow.pyfunc.load_model("models:/trn-it-mode@champion").predict(sample)
    assert probabilities.shape[1] >= 2 and np.allclose(probabilities.sum(axis=1), 1.0)

    anomaly = train_task(spark, icfg, "anomaly", training_set=ts)
    assert "pr_auc" in anomaly.metrics and anomaly.split["test_equipment"] == ""
    scores = np.asarray(mlflow.pyfunc.load_model("models:/trn-it-anomaly@champion").predict(sample))
    assert np.all((scores >= 0) & (scores <= 1))
