"""Real-time scoring against the session's trained fleet (tests/plugins/trained_fleet.py).

The windows of silver.features_machine_1m are replayed one at a time, as the stream hands them
over, and must give the same model inputs as training's Spark code, the same scores as the batch
scorer's model, and alerts that follow training's alert rule. The Flink operators run the same
replay in a real (local) Flink job and MERGE gold.predictions and gold.alerts.
"""
from __future__ import annotations

import base64
import copy
import os
import pickle

import numpy as np
import pandas as pd
import pytest

from sensorlake.config import Config
from tests.plugins.trained_fleet import with_lake

pytestmark = pytest.mark.integration

REPLAY_FROM = pd.Timestamp("2025-09-10T10:00:00Z")   # windows before this only build up history


@pytest.fixture(scope="module")
def rcfg(icfg):
    """The fleet's configuration, scoring the failure task; failure modes off (alerts per equipment).

    The champion is looked up once per scorer (``refresh_s`` longer than any test): a lookup per
    window cost an MLflow request each, 80% of a replay's time. The watcher test refreshes on
    every call with a watcher of its own."""
    data = copy.deepcopy(icfg.data)
    data["streaming"]["scoring"] = {"tasks": ["failure"], "refresh_s": 3600}
    data["alerts"]["mode_task"] = None
    return Config(data=data, base_dir=icfg.base_dir)


@pytest.fixture(scope="module")
def silver(fleet, icfg):
    """The fleet's feature windows as the stream would deliver them: ordered by window_end."""
    from deltalake import DeltaTable

    frame = DeltaTable(str(icfg.table_path("silver.features_machine_1m"))).to_pandas()
    return frame.sort_values(["window_end", "equipment_id"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def batch_inputs(spark, icfg, fleet):
    """Training's own model inputs (Spark) for every window of the fleet."""
    from training.config import task_config
    from training.dataset import feature_rows, to_pandas

    task = task_config(icfg, "failure")
    rows, features = feature_rows(task, {"machine_1m": spark.read.format("delta").load(str(icfg.table_path("silver.features_machine_1m")))})
    return to_pandas(rows), features


@pytest.fixture
def restored_environ():
    """The whole environment back after the test: a local job's loopback worker writes its variables into it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def replay(scorer, silver: pd.DataFrame, score: bool = True, criticality=None):
    """Every window through an EquipmentHistory per equipment; the scored rows from REPLAY_FROM on."""
    from sensorlake.alerts import AlertBook

    histories, books, inputs, predictions, alerts = {}, {}, [], [], []
    for row in silver.to_dict("records"):
        eq, end = row["equipment_id"], row["window_end"].to_pydatetime()
        history = histories.setdefault(eq, scorer.new_history())
        values = history.add(end, row)
        if row["window_end"] < REPLAY_FROM:
            continue
        inputs.append(values | {"equipment_id": eq, "window_end": row["window_end"]})
        if score:
            p, a = scorer.score(eq, end, values, books.setdefault(eq, AlertBook(scorer.policy)), criticality)
            predictions += p
            alerts += a
    return pd.DataFrame(inputs), pd.DataFrame(predictions), alerts


def test_windows_one_at_a_time_give_trainings_trailing_means_and_baseline_deviations(rcfg, silver, batch_inputs):
    from sensorlake.realtime import WindowScorer
    from training.dataset import feature_columns_among
    from sensorlake.lake.tables import silver_spec
    from feature_defs import load_registry

    columns = feature_columns_among(silver_spec(load_registry(rcfg)["machine_1m"]).columns)
    online, _, _ = replay(WindowScorer(rcfg, ["failure"], columns), silver, score=False)
    expected, features = batch_inputs
    derived = [f for f in features if "__mean_" in f or "__dev_" in f]
    assert len(derived) == 2 * len(columns)
    both = online.merge(expected, on=["equipment_id", "window_end"], suffixes=("", "_batch"))
    assert len(both) == len(online) > 0
    for name in features:
        np.testing.assert_allclose(both[name].astype(float), both[f"{name}_batch"].astype(float), rtol=1e-9, atol=1e-9,
                                   equal_nan=True, err_msg=name)


def test_scores_and_reasons_equal_the_batch_model_and_alerts_follow_trainings_alert_rule(rcfg, silver, batch_inputs, first):
    import mlflow

    from sensorlake.alerts import AlertPolicy
    from sensorlake.lake.tables import silver_spec
    from sensorlake.realtime import WindowScorer
    from sensorlake.scoring import top_contributions
    from training.alerts import alert_starts
    from training.dataset import feature_columns_among
    from feature_defs import load_registry

    columns = feature_columns_among(silver_spec(load_registry(rcfg)["machine_1m"]).columns)
    scorer = WindowScorer(rcfg, ["failure"], columns)
    _, predictions, alerts = replay(scorer, silver)
    assert set(predictions["model_version"]) == {first.model_version} and set(predictions["task"]) == {"failure"}

    mlflow.set_tracking_uri(rcfg.mlflow_tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/trn-it-failure/{first.model_version}")
    expected, _ = batch_inputs
    both = predictions.merge(expected, on=["equipment_id", "window_end"])
    assert len(both) == len(predictions) > 100
    booster = model.unwrap_python_model()
    expected_p = np.asarray(model.predict(both[booster.feature_columns].astype("float64")))
    np.testing.assert_allclose(both["failure_probability"], expected_p, rtol=1e-9, atol=1e-12)
    X = both[booster.feature_columns].astype("float64").to_numpy()
    contributions = booster.booster.predict(X, pred_contrib=True)[:, :len(booster.feature_columns)]
    assert both["top_features"].tolist() == top_contributions(contributions, booster.feature_columns)

    # alerts: each alert opening is a start under training's rule (positives less than the throttle apart are one alert)
    threshold = booster.threshold
    starts = alert_starts(both, both["failure_probability"].to_numpy() >= threshold, AlertPolicy.from_config(rcfg).throttle)
    opened = {a["alert_id"] for a in alerts}
    assert len(opened) == int(starts.sum()) > 0
    final = pd.DataFrame(alerts).groupby("alert_id").last()
    open_now = final[final["status"] == "open"]
    assert not open_now.duplicated(["equipment_id", "failure_mode"]).any(), "one open alert per equipment and mode"
    assert (final["peak_probability"] >= threshold).all() and (final["evidence_windows"] >= 1).all()


def test_the_watcher_picks_up_a_newly_promoted_champion_and_keeps_the_last_one_when_mlflow_is_unreachable(rcfg, first):
    from mlflow import MlflowClient

    from sensorlake.realtime import ChampionWatcher, quick_failing_mlflow_requests
    from tests.conftest import free_port

    client = MlflowClient(rcfg.mlflow_tracking_uri)
    watcher = ChampionWatcher(rcfg, "trn-it-failure", refresh_s=0)
    assert watcher.current().version == first.model_version
    source = client.get_model_version("trn-it-failure", first.model_version)
    logged_model = source.model_id or source.source.rsplit("/", 1)[-1]     # source is models:/<logged model id>
    newer = client.create_model_version("trn-it-failure", source.source, run_id=source.run_id, model_id=logged_model)
    try:
        client.set_registered_model_alias("trn-it-failure", "champion", newer.version)
        assert watcher.current().version == str(newer.version)           # no restart: the next lookup moves
    finally:
        client.set_registered_model_alias("trn-it-failure", "champion", first.model_version)
    assert watcher.current().version == first.model_version

    quick_failing_mlflow_requests()
    down = copy.deepcopy(rcfg.data)
    down["mlflow"]["port"] = free_port()                                  # nothing listens there
    watcher.cfg = Config(data=down, base_dir=rcfg.base_dir)
    held = watcher.champion
    assert watcher.current() is held and watcher.last_error


@pytest.mark.slow
def test_the_flink_operators_score_every_window_into_gold_predictions_and_keep_one_open_alert_per_equipment(
        rcfg, silver, first, tmp_path, restored_environ):
    from deltalake import DeltaTable
    from pyflink.common import Types

    from sensorlake.lake.tables import silver_spec
    from sensorlake.streaming.job import add_scoring, create_environments
    from feature_defs import load_registry

    rcfg = with_lake(rcfg, tmp_path)        # gold tables of its own (the batch scoring tests use the fleet's)
    view = load_registry(rcfg)["machine_1m"]
    names = silver_spec(view).column_names
    # the rows travel as pickled text (Flink's collection source unpickles its elements in Java, which knows no pandas types)
    # the last 8 of the fleet's 18 hours (the failures come every few hours): each window is scored on its own
    recent = silver[silver["window_end"] > silver["window_end"].max() - pd.Timedelta(hours=8)]
    rows = [base64.b64encode(pickle.dumps(tuple(r[n] for n in names))).decode() for r in recent.to_dict("records")]
    # the job's Python operators run in this process (loopback) and set PYFLINK_GATEWAY_DISABLED here: undone after the test
    env, _ = create_environments(rcfg, parallelism=1)
    features = (env.from_collection(rows, type_info=Types.STRING())
                .map(lambda text: pickle.loads(base64.b64decode(text)), output_type=Types.PICKLED_BYTE_ARRAY()))
    add_scoring(features, rcfg, ["failure"], view, names, "rt-test", flush_ms=1000)
    env.execute("realtime-scoring-test")

    predictions = DeltaTable(str(rcfg.table_path("gold.predictions"))).to_pandas()
    mine = predictions[predictions["run_id"] == "rt-test"]
    assert len(mine) == len(recent) and not mine.duplicated(["equipment_id", "window_end", "model_version"]).any()
    assert set(mine["job_name"]) == {"stream-score"} and mine["failure_probability"].between(0, 1).all()
    alerts = DeltaTable(str(rcfg.table_path("gold.alerts"))).to_pandas()
    assert len(alerts) > 0 and set(alerts["status"]) <= {"open", "closed"}
    assert not alerts[alerts["status"] == "open"].duplicated(["equipment_id", "failure_mode"]).any()
    assert alerts["reasons"].notna().all() and set(alerts["model_version"]) == {first.model_version}
