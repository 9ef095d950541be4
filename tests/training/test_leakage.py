"""No leakage: changing any data after t leaves every training row at or before t unchanged.

Two feature views (1-minute windows, and 10-minute windows sliding every 5 minutes joined as of
window_end) and the events are written as Delta tables; then everything after t is rewritten
(feature values, new windows, failures moved, added and removed, a maintenance added) as new
table versions, and the training set is built again.
"""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from sensorlake.errors import GateFailed
from tests.training.conftest import EVENT_DDL, T0, at
from training.config import task_config
from training.dataset import build_training_set, feature_table, labelled_rows, to_pandas
from training.labels import LABEL_COLUMNS
from training.sources import pin_tables

FEATURE_DDL = ("equipment_id STRING, site_id STRING, window_start TIMESTAMP, window_end TIMESTAMP, "
               "feature_view STRING, feature_set_version STRING, vibration__mean DOUBLE, temperature__max DOUBLE, "
               "vibration__count BIGINT")
EQUIPMENT = ("trn-leak-1", "trn-leak-2")
CUT = at(3)  # t


def feature_rows(view: str, size: timedelta, slide: timedelta, hours: float, rng, scale: float = 1.0):
    rows, end = [], T0 + size
    while end <= T0 + timedelta(hours=hours):
        for eq in EQUIPMENT:
            rows.append((eq, "plant-t", end - size, end, view, f"{view}:v1", float(rng.normal(2, 1)) * scale,
                         float(rng.normal(60, 5)) * scale, int(rng.integers(100, 120))))
        end += slide
    return rows


def write(spark, path, rows, ddl, mode="overwrite"):
    spark.createDataFrame(rows, ddl).write.format("delta").mode(mode).option("overwriteSchema", "true").save(str(path))


def build(spark, cfg, task, versions=None):
    pins = pin_tables(cfg, [feature_table(v) for v in task.views] + [task.events_table], versions)
    df, features = labelled_rows(spark, task, pins)
    frame = to_pandas(df).sort_values(["equipment_id", "window_end"]).reset_index(drop=True)
    return frame, features, pins


@pytest.fixture(scope="module")
def task(tcfg):
    base = task_config(tcfg, "failure")
    return dataclasses.replace(base, views=("trn_leak_1m", "trn_leak_10m"), horizon=timedelta(hours=1),
                               rul_cap=timedelta(hours=2), rolling=(timedelta(minutes=30),), baseline=timedelta(hours=1))


@pytest.fixture(scope="module")
def lake(spark, tcfg, task):
    """Version 0 of both feature tables and the events, and the training set built from them."""
    rng = np.random.default_rng(7)
    write(spark, tcfg.table_path(feature_table("trn_leak_1m")),
          feature_rows("trn_leak_1m", timedelta(minutes=1), timedelta(minutes=1), 5, rng), FEATURE_DDL)
    write(spark, tcfg.table_path(feature_table("trn_leak_10m")),
          feature_rows("trn_leak_10m", timedelta(minutes=10), timedelta(minutes=5), 5, rng), FEATURE_DDL)
    events = [("trn-leak-1", at(1, 30), "failure", "bearing_wear"), ("trn-leak-1", at(2), "maintenance", None),
              ("trn-leak-1", at(3, 40), "failure", "overheating"), ("trn-leak-1", at(4, 10), "maintenance", None),
              ("trn-leak-2", at(4, 20), "failure", "seal_leak")]
    write(spark, tcfg.table_path(task.events_table), events, EVENT_DDL)
    return build(spark, tcfg, task)


def rewrite_after_cut(spark, cfg, task):
    """New versions of every table: each row after t changed, windows added after t, events after t changed."""
    from pyspark.sql import functions as F

    for view in task.views:
        path = str(cfg.table_path(feature_table(view)))
        df = spark.read.format("delta").load(path)
        after = F.col("window_end") > F.lit(CUT)
        changed = df.select(*[(F.when(after, F.col(c) * 10 + 3).otherwise(F.col(c)).alias(c)
                               if c in ("vibration__mean", "temperature__max") else F.col(c)) for c in df.columns])
        extra = (df.where(after).withColumn("window_end", F.col("window_end") + F.expr("INTERVAL 30 SECONDS"))
                 .withColumn("vibration__mean", F.lit(99.0)))
        changed.unionByName(extra).localCheckpoint().write.format("delta").mode("overwrite").save(path)
    events = [("trn-leak-1", at(1, 30), "failure", "bearing_wear"), ("trn-leak-1", at(2), "maintenance", None),
              ("trn-leak-1", at(3, 1), "failure", "electrical_fault"),      # moved from 03:40, new mode
              ("trn-leak-1", at(3, 20), "maintenance", None),
              ("trn-leak-2", at(3, 30), "maintenance", None),                # 04:20 failure removed, PM added
              ("trn-leak-2", at(4, 50), "failure", "imbalance")]
    write(spark, cfg.table_path(task.events_table), events, EVENT_DDL)


def test_rows_at_or_before_t_keep_every_feature_when_everything_after_t_changes(spark, tcfg, task, lake):
    before, features, pins = lake
    rewrite_after_cut(spark, tcfg, task)
    after, features_after, pins_after = build(spark, tcfg, task)
    assert all(pins_after[t].version > pins[t].version for t in pins), "every table got a new version"
    assert features_after == features and len(features) == 3 * 3 + 3   # value, 30m mean, 1h deviation; joined view
    key = ["equipment_id", "window_end"]
    old = before[before["window_end"] <= CUT].set_index(key)
    new = after[after["window_end"] <= CUT].set_index(key)
    assert len(old) > 300 and list(new.index) == list(old.index)
    pd.testing.assert_frame_equal(new[features], old[features])

    # the rewrite did reach the rows after t (features) and the labels of rows before t (they look ahead)
    later_old = before[before["window_end"] > CUT].set_index(key)[features]
    later_new = after[after["window_end"] > CUT].set_index(key)[features]
    assert not later_new.reindex(later_old.index).equals(later_old)
    row_t = (before.set_index(key).loc[("trn-leak-1", CUT)], after.set_index(key).loc[("trn-leak-1", CUT)])
    assert (row_t[0]["failure_mode"], row_t[1]["failure_mode"]) == ("overheating", "electrical_fault")
    assert (row_t[0]["fails_within"], row_t[1]["fails_within"]) == (1, 1)
    assert row_t[1]["hours_to_failure"] == pytest.approx(1 / 60)


def test_the_pinned_versions_rebuild_the_earlier_training_set_exactly(spark, tcfg, task, lake):
    before, features, pins = lake
    again, _, _ = build(spark, tcfg, task, versions={t: p.version for t, p in pins.items()})
    pd.testing.assert_frame_equal(again[["equipment_id", "window_end", *features, *[c for c in LABEL_COLUMNS if c != "down"]]],
                                  before[["equipment_id", "window_end", *features, *[c for c in LABEL_COLUMNS if c != "down"]]])


def test_a_joined_view_contributes_its_latest_window_ending_at_or_before_t(lake):
    frame, features, _ = lake
    row = frame.set_index(["equipment_id", "window_end"]).loc[("trn-leak-2", at(0, 14))]
    ten = frame.set_index(["equipment_id", "window_end"])
    assert row["trn_leak_10m__vibration__mean"] == ten.loc[("trn-leak-2", at(0, 10)), "trn_leak_10m__vibration__mean"]
    assert np.isnan(ten.loc[("trn-leak-2", at(0, 9)), "trn_leak_10m__vibration__mean"])   # no 10m window ended yet


def test_the_trailing_mean_averages_the_windows_of_the_last_span_only(lake):
    frame, _, _ = lake
    one = frame[frame["equipment_id"] == "trn-leak-1"].set_index("window_end")
    t = at(1)
    expected = one.loc[(one.index > t - timedelta(minutes=30)) & (one.index <= t), "vibration__mean"].mean()
    assert one.loc[t, "vibration__mean__mean_30m"] == pytest.approx(expected)


def test_the_deviation_is_the_recent_mean_minus_the_machine_s_own_longer_trailing_mean(lake):
    frame, _, _ = lake
    one = frame[frame["equipment_id"] == "trn-leak-2"].set_index("window_end")["temperature__max"]
    t = at(2, 30)
    recent = one[(one.index > t - timedelta(minutes=30)) & (one.index <= t)].mean()
    normal = one[(one.index > t - timedelta(hours=1)) & (one.index <= t)].mean()
    row = frame.set_index(["equipment_id", "window_end"]).loc[("trn-leak-2", t)]
    assert row["temperature__max__dev_1h"] == pytest.approx(recent - normal)


def test_rows_between_a_failure_and_its_repair_are_not_in_the_training_set(lake):
    frame, _, _ = lake
    one = frame[frame["equipment_id"] == "trn-leak-1"]["window_end"]
    assert not ((one >= at(1, 30)) & (one < at(2))).any()      # the failure at 01:30 is known at 01:30
    assert ((one > at(1)) & (one < at(1, 30))).sum() == 29 and (one == at(2)).any()
    assert len(one) == 300 - 30 - 30                            # two failures, each down for 30 minutes


def test_training_refuses_a_feature_table_with_no_passing_validation(spark, tcfg, task, lake):
    with pytest.raises(GateFailed, match="silver.features_trn_leak_1m has no recorded validation"):
        build_training_set(spark, tcfg, task)
