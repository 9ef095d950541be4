"""Task options for data labelled differently: the row's own window as label window, no repair events,
a random split for independent rows, a threshold from the alert budget alone."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from sensorlake.errors import ConfigError
from tests.training.conftest import EVENT_DDL, at, event, windows
from training.config import task_config
from training.labels import point_in_time_labels
from training.split import split_rows

H, CAP, STEP = timedelta(hours=1), timedelta(hours=2), timedelta(minutes=1)
ROWS_DDL = "equipment_id STRING, window_start TIMESTAMP, window_end TIMESTAMP, x DOUBLE"


def _labels(spark, events, **options):
    rows = windows("trn-c", at(0, 1), at(0, 10), STEP)           # windows [00:00, 00:01) ... [00:09, 00:10)
    df = spark.createDataFrame(rows, ROWS_DDL)
    out = point_in_time_labels(df, spark.createDataFrame(events, EVENT_DDL), H, CAP, **options).collect()
    return {r["window_start"].replace(tzinfo=None): r for r in out}


def start(minutes):
    return at(0, minutes).replace(tzinfo=None)


@pytest.fixture(scope="module")
def current(spark):
    """Failures at 00:03 and 00:07 (the instants of two steps), no maintenance ever, own-window labels."""
    events = [event("trn-c", at(0, 3), "failure", "power_failure"), event("trn-c", at(0, 7), "failure", "overstrain")]
    return _labels(spark, events, label_window="current", down_after_failure="none")


def test_current_label_window_marks_exactly_the_window_holding_the_failure(current):
    assert [current[start(m)]["fails_within"] for m in range(10)] == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    assert current[start(3)]["failure_mode"] == "power_failure" and current[start(3)]["hours_to_failure"] == 0


def test_current_label_window_knows_the_label_of_the_last_window(current):
    assert current[start(9)]["fails_within"] == 0                  # no horizon runs past the observation


def test_without_repair_events_no_row_is_down(current):
    assert not any(r["down"] for r in current.values())


def test_by_default_rows_after_an_unrepaired_failure_are_down_and_the_horizon_looks_after_the_window(spark):
    labels = _labels(spark, [event("trn-c", at(0, 3), "failure", "power_failure")])
    assert [labels[start(m)]["down"] for m in (1, 2, 3, 4)] == [False, True, True, True]   # known at window_end 00:03
    assert labels[start(1)]["fails_within"] == 1 and labels[start(3)]["fails_within"] is None   # horizon unobserved


def test_current_label_window_needs_window_start(spark):
    df = spark.createDataFrame([("trn-c", at(0, 1), 1.0)], "equipment_id STRING, window_end TIMESTAMP, x DOUBLE")
    with pytest.raises(ValueError, match="window_start"):
        point_in_time_labels(df, spark.createDataFrame([], EVENT_DDL), H, CAP, label_window="current")


def test_task_options_default_to_todays_behaviour_and_reject_unknown_values(cfg):
    task = task_config(cfg, "failure")
    assert (task.label_window, task.down_after_failure, task.threshold_rule) == ("horizon", "until_maintenance", "cost")
    assert task.purge == task.horizon
    own = cfg.data["training"]["tasks"]["failure"] | {"label_window": "current"}
    changed = type(cfg)(data={**cfg.data, "training": {**cfg.data["training"], "tasks": {"own": own}}}, base_dir=cfg.base_dir)
    assert task_config(changed, "own").purge == timedelta(0)
    bad = type(cfg)(data={**cfg.data, "training": {**cfg.data["training"], "tasks": {"bad": own | {"down_after_failure": "never"}}}},
                    base_dir=cfg.base_dir)
    with pytest.raises(ConfigError, match="down_after_failure"):
        task_config(bad, "bad")


def test_random_split_is_stratified_disjoint_and_reproducible():
    n = 1000
    frame = pd.DataFrame({"equipment_id": "trn-r", "window_end": pd.date_range("2025-09-01", periods=n, freq="min", tz="UTC"),
                          "fails_within": (np.arange(n) % 20 == 0).astype(int)})
    split = {"method": "random", "test_fraction": 0.3, "valid_fraction": 0.25, "seed": 7}
    parts = split_rows(frame, split, purge=timedelta(hours=1))
    assert not (parts.train & parts.test).any() and not (parts.valid & parts.test).any() and not (parts.train & parts.valid).any()
    assert (parts.train | parts.valid | parts.test).all()
    assert frame.loc[parts.test, "fails_within"].sum() == 15 and parts.test.sum() == 300   # 30% of each class
    assert (split_rows(frame, split, purge=timedelta(0)).test == parts.test).all()
