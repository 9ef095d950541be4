"""Point-in-time labels: what happens after each window_end, with censoring and down time made explicit."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.training.conftest import EVENT_DDL, at, event, windows
from training.labels import point_in_time_labels

H, CAP = timedelta(hours=1), timedelta(hours=2)


@pytest.fixture(scope="module")
def labels(spark):
    """One machine with a failure, its repair, a preventive maintenance; one that fails and is never repaired."""
    step = timedelta(minutes=10)
    rows = windows("trn-a", at(0, 10), at(10), step) + windows("trn-b", at(0, 10), at(3), step)
    events = [
        event("trn-a", at(3, 5), "failure", "bearing_wear"),
        event("trn-a", at(4), "maintenance"),                 # corrective repair
        event("trn-a", at(7), "maintenance"),                 # preventive: ends a life without failure
        event("trn-a", at(5, 30), "inspection"),              # carries no label
        event("trn-b", at(1), "failure", "overheating"),      # exactly at a window_end, never repaired
        event("trn-z", at(0, 30), "failure", "seal_leak"),    # another machine's failure
    ]
    df = spark.createDataFrame(rows, "equipment_id STRING, window_start TIMESTAMP, window_end TIMESTAMP, x DOUBLE")
    out = point_in_time_labels(df, spark.createDataFrame(events, EVENT_DDL), H, CAP).collect()
    return {(r["equipment_id"], r["window_end"].replace(tzinfo=None)): r for r in out}


def row(labels, eq, hours, minutes=0):
    return labels[(eq, at(hours, minutes).replace(tzinfo=None))]


def test_a_failure_within_the_horizon_labels_the_row_with_its_time_and_mode(labels):
    r = row(labels, "trn-a", 2, 10)
    assert (r["fails_within"], r["failure_mode"], r["censored"]) == (1, "bearing_wear", False)
    assert r["rul_h"] == pytest.approx(55 / 60) and r["rul"] == pytest.approx(55 / 60)
    assert r["hours_to_failure"] == pytest.approx(55 / 60)


def test_a_failure_just_beyond_the_horizon_is_a_negative_and_rul_is_capped(labels):
    assert row(labels, "trn-a", 2)["fails_within"] == 0            # 03:05 is after 02:00 + 1h
    early = row(labels, "trn-a", 0, 10)
    assert early["rul_h"] == pytest.approx(2 + 55 / 60) and early["rul"] == pytest.approx(2.0)


def test_windows_between_a_failure_and_its_repair_are_down_and_the_repair_ends_it(labels):
    assert row(labels, "trn-a", 3)["down"] is False and row(labels, "trn-a", 3)["fails_within"] == 1
    assert [row(labels, "trn-a", 3, m)["down"] for m in (10, 20, 50)] == [True, True, True]
    assert row(labels, "trn-a", 4)["down"] is False                 # maintenance at 04:00 is known at 04:00


def test_a_failure_never_repaired_leaves_the_equipment_down_from_that_instant(labels):
    assert row(labels, "trn-b", 0, 50)["fails_within"] == 1 and row(labels, "trn-b", 0, 50)["down"] is False
    assert all(row(labels, "trn-b", 1, m)["down"] for m in (0, 10, 50))
    assert row(labels, "trn-b", 1)["fails_within"] == 0             # a failure at t is known at t, not after it


def test_a_life_ended_by_preventive_maintenance_is_censored_and_keeps_the_cap_only_if_observed_that_long(labels):
    five = row(labels, "trn-a", 5)                                   # PM at 07:00: observed 2 h = cap
    assert (five["censored"], five["rul_h"], five["rul"], five["failure_mode"]) == (True, None, pytest.approx(2.0), None)
    assert five["censored_at"].replace(tzinfo=None) == at(7).replace(tzinfo=None)
    later = row(labels, "trn-a", 5, 10)                              # observed 1 h 50 < cap: unknown
    assert (later["censored"], later["rul"]) == (True, None)
    assert five["fails_within"] == 0


def test_the_end_of_observation_censors_and_leaves_the_horizon_unknown(labels):
    assert row(labels, "trn-a", 9)["fails_within"] == 0              # 09:00 + 1h = last window 10:00
    assert row(labels, "trn-a", 9, 10)["fails_within"] is None       # horizon runs past what was observed
    assert row(labels, "trn-a", 8)["rul"] == pytest.approx(2.0)      # censored at 10:00, observed 2 h
    assert row(labels, "trn-a", 8, 10)["rul"] is None


def test_inspections_and_other_machines_events_do_not_label_a_row(labels):
    assert row(labels, "trn-a", 5, 20)["fails_within"] == 0
    assert row(labels, "trn-b", 0, 10)["rul_h"] == pytest.approx(50 / 60)   # not trn-z's 00:30 seal leak
