"""Splits keep equipment and time apart; the threshold follows the costs and the alert budget; metrics."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from sensorlake.errors import ConfigError, InputError
from tests.training.conftest import T0
from training.alerts import alert_starts, alerts_per_day, choose_threshold
from training.config import task_config
from training.metrics import binary_metrics, phm08_score, regression_metrics
from training.split import split_rows


def fleet_frame(equipment: int = 6, hours: int = 48, step_min: int = 10) -> pd.DataFrame:
    times = pd.date_range(T0, periods=hours * 60 // step_min, freq=f"{step_min}min")
    return pd.DataFrame([(f"trn-{i}", t) for i in range(equipment) for t in times], columns=["equipment_id", "window_end"])


SPLIT = {"test_fraction": 0.3, "valid_fraction": 0.25, "seed": 3}


def test_a_time_group_split_holds_out_equipment_and_time_with_the_horizon_purged():
    frame = fleet_frame()
    parts = split_rows(frame, {**SPLIT, "method": "time_group"}, purge=timedelta(hours=2))
    train_eq = set(frame.loc[parts.train | parts.valid, "equipment_id"])
    test_eq = set(frame.loc[parts.test, "equipment_id"])
    assert test_eq == set(parts.test_equipment) and len(test_eq) == 2 and not train_eq & test_eq
    assert frame.loc[parts.train | parts.valid, "window_end"].max() <= parts.cutoff - timedelta(hours=2)
    assert frame.loc[parts.test, "window_end"].min() > parts.cutoff
    assert frame.loc[parts.train, "window_end"].max() + timedelta(hours=2) <= frame.loc[parts.valid, "window_end"].min()
    assert not (parts.train & parts.valid).any() and not (parts.train & parts.test).any()


def test_a_time_split_uses_every_equipment_on_both_sides_of_the_cutoff():
    frame = fleet_frame()
    parts = split_rows(frame, {**SPLIT, "method": "time"}, purge=timedelta(0))
    assert set(frame.loc[parts.test, "equipment_id"]) == set(frame.loc[parts.train, "equipment_id"]) == set(frame["equipment_id"])
    assert parts.test.mean() == pytest.approx(0.3, abs=0.02)


def test_a_split_by_equipment_needs_two_machines():
    with pytest.raises(InputError, match="at least 2 equipment"):
        split_rows(fleet_frame(equipment=1), {**SPLIT, "method": "group"}, purge=timedelta(0))


def test_positive_windows_closer_than_the_throttle_make_one_alert():
    frame = fleet_frame(equipment=2, hours=10)
    positive = np.zeros(len(frame), dtype=bool)
    positive[[3, 4, 5, 20, 65]] = True          # trn-0: 00:30-00:50 then 03:20 (2.5 h later); trn-1: 00:50
    starts = alert_starts(frame, positive, timedelta(hours=2))
    assert list(np.flatnonzero(starts)) == [3, 20, 65]
    assert alerts_per_day(frame, positive, timedelta(hours=2), fleet_size=4) == pytest.approx(3 / (2 * 59 / 144) * 4)


def test_the_threshold_minimises_expected_cost_and_rises_to_respect_the_alert_budget():
    frame = fleet_frame(equipment=4, hours=24)
    rng = np.random.default_rng(0)
    labels = (rng.random(len(frame)) < 0.2).astype(int)
    scores = np.clip(labels * 0.35 + rng.random(len(frame)) * 0.65, 0, 1)
    costs = {"false_alarm": 1.0, "missed_failure": 10.0}
    loose = choose_threshold(frame, scores, labels, costs, budget_per_day=1e9, throttle=timedelta(minutes=5), fleet_size=4)
    cost = lambda t: np.sum((scores >= t) & (labels == 0)) + 10 * np.sum((scores < t) & (labels == 1))  # noqa: E731
    grid = np.linspace(0, 1, 1001)
    assert cost(loose.threshold) <= min(cost(t) for t in grid) * 1.02
    assert not loose.budget_binding and loose.threshold == loose.by_cost
    tight = choose_threshold(frame, scores, labels, costs, budget_per_day=20, throttle=timedelta(minutes=5), fleet_size=4)
    assert tight.budget_binding and tight.threshold > loose.threshold
    assert tight.alerts_per_day <= 20 < alerts_per_day(frame, scores >= loose.threshold, timedelta(minutes=5), 4)


def test_lead_time_is_measured_from_the_first_alert_within_the_horizon():
    frame = fleet_frame(equipment=1, hours=6)
    failure = T0 + timedelta(hours=4)
    frame["next_failure_time"] = failure
    frame["hours_to_failure"] = (failure - frame["window_end"]).dt.total_seconds() / 3600
    frame["fails_within"] = ((frame["hours_to_failure"] > 0) & (frame["hours_to_failure"] <= 2)).astype(int)
    scores = np.where(frame["hours_to_failure"].between(0, 1.5), 0.9, 0.1)
    m = binary_metrics(frame, scores, threshold=0.5, budget_threshold=0.5, throttle=timedelta(hours=2), fleet_size=1)
    assert (m["failures"], m["failures_alerted"], m["median_lead_time_h"]) == (1, 1, pytest.approx(1.5))
    assert m["precision_at_budget"] == 1.0 and m["recall"] == pytest.approx(9 / 12)


def test_the_phm08_score_punishes_late_predictions_more_than_early_ones():
    late, early = phm08_score([10.0], [15.0])[0], phm08_score([10.0], [5.0])[0]
    assert late == pytest.approx(np.exp(0.5) - 1) and early == pytest.approx(np.exp(5 / 13) - 1) and late > early
    m = regression_metrics([1.0, 2.0, 3.0], [1.0, 4.0, 3.0])
    assert (m["rmse"], m["mae"]) == (pytest.approx(np.sqrt(4 / 3)), pytest.approx(2 / 3))


def test_a_task_is_configuration_and_bad_values_are_refused_by_key(cfg):
    from sensorlake.config import load_config

    custom = load_config(environ={}, overrides=["training.tasks.pump_leak={kind: binary, horizon: 6h, views: [pump_10m]}",
                                                "training.tasks.pump_leak.split.method=group"])
    task = task_config(custom, "pump_leak")
    assert (task.kind, task.label, task.horizon, task.views, task.split["method"]) == (
        "binary", "fails_within", timedelta(hours=6), ("pump_10m",), "group")
    assert task.split["test_fraction"] == 0.3 and task.experiment == "sensorlake-pump_leak"
    with pytest.raises(ConfigError, match="unknown training task 'nope'"):
        task_config(custom, "nope")
    with pytest.raises(ConfigError, match="horizon"):
        task_config(load_config(environ={}, overrides=["training.horizon=soon"]), "failure")
    with pytest.raises(ConfigError, match="split method 'shuffled'"):
        task_config(load_config(environ={}, overrides=["training.split.method=shuffled"]), "rul")
