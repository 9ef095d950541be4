"""The unsupervised anomaly score: [0, 1], high on shifted windows, relative to each machine's own baseline."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.anomaly import fit_anomaly
from training.pyfunc import PredictiveMaintenanceModel


def machines(rng, n=400):
    """trn-a runs around 1.0, trn-b around 5.0 (a different unit): both healthy."""
    a = pd.DataFrame({"vibration__rms": rng.normal(1.0, 0.1, n), "temperature__mean": rng.normal(40, 1, n)})
    b = pd.DataFrame({"vibration__rms": rng.normal(5.0, 0.5, n), "temperature__mean": rng.normal(60, 2, n)})
    return pd.concat([a, b], ignore_index=True), np.array(["trn-a"] * n + ["trn-b"] * n)


@pytest.mark.parametrize("method", ["robust_z", "isolation_forest"])
def test_shifted_windows_score_near_one_and_healthy_ones_spread_over_zero_to_one(method):
    rng = np.random.default_rng(1)
    X, groups = machines(rng)
    model = fit_anomaly(X, groups, method=method, group_by="equipment_id" if method == "robust_z" else None)
    healthy = model.score(X, groups)
    shifted = X.iloc[:20].copy()
    shifted["vibration__rms"] += 8.0
    scores = model.score(shifted, groups[:20])
    assert 0.0 <= healthy.min() and healthy.max() <= 1.0 and 0.4 < np.median(healthy) < 0.6
    assert scores.min() > 0.98


def test_a_per_equipment_baseline_does_not_flag_a_machine_that_normally_runs_higher():
    rng = np.random.default_rng(2)
    X, groups = machines(rng)
    per_machine = fit_anomaly(X, groups, group_by="equipment_id")
    fleet = fit_anomaly(X, None, group_by=None)
    b_like_a_fault = pd.DataFrame({"vibration__rms": [5.0], "temperature__mean": [60.0]})
    assert per_machine.score(b_like_a_fault, ["trn-b"])[0] < 0.8
    assert per_machine.score(b_like_a_fault, ["trn-a"])[0] > 0.98
    assert fleet.score(X.iloc[:5], None).shape == (5,)


def test_missing_sensors_are_left_out_of_the_score_not_counted_as_anomalies():
    rng = np.random.default_rng(3)
    X, groups = machines(rng)
    X.loc[groups == "trn-b", "temperature__mean"] = np.nan     # a machine without that sensor
    model = fit_anomaly(X, groups, group_by="equipment_id")
    pyfunc = PredictiveMaintenanceModel("anomaly", list(X.columns), anomaly=model, group_column="equipment_id")
    scores = pyfunc.predict(None, X.assign(equipment_id=groups))
    assert np.isfinite(scores).all() and np.median(scores[groups == "trn-b"]) < 0.7
