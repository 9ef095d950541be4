"""The formulas mean what the formula table says: Spark's results against an independent numpy reference."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from feature_defs.formulas import PARTIALS, Ref, render_sql
from feature_defs.spectral import spectral_features
from tests.feature_defs import engines
from tests.feature_defs.readings_data import START_MS


def reference(values: np.ndarray, ts_ms: np.ndarray, window_start_ms: int) -> dict:
    """Textbook two-pass formulas with numpy (sample std; population skewness and excess kurtosis)."""
    order = np.argsort(ts_ms)
    x, t = values[order], (ts_ms[order] - window_start_ms) / 1000.0
    n, mean = len(x), x.mean()
    m2, m3, m4 = (((x - mean) ** k).mean() for k in (2, 3, 4))
    rms = np.sqrt((x ** 2).mean())
    return {"count": n, "mean": mean, "std": x.std(ddof=1), "min": x.min(), "max": x.max(), "rms": rms,
            "peak_to_peak": x.max() - x.min(), "crest_factor": np.abs(x).max() / rms,
            "skewness": m3 / m2 ** 1.5, "kurtosis": m4 / m2 ** 2 - 3.0, "slope": np.polyfit(t, x, 1)[0], "last": x[-1]}


@pytest.fixture(scope="module")
def deduplicated(readings):
    frame = pd.DataFrame(readings, columns=["site_id", "equipment_id", "sensor", "ts_ms", "value"])
    return frame.groupby(["site_id", "equipment_id", "sensor", "ts_ms"], as_index=False)["value"].max()


def test_spark_matches_the_numpy_reference(spark, shipped_views, readings, deduplicated):
    view = shipped_views["machine_1m"]
    rows = {(r["equipment_id"], r["window_start"].minute): r for r in engines.run_spark(spark, view, readings)}
    checked = 0
    for (equipment, sensor), group in deduplicated.groupby(["equipment_id", "sensor"]):
        minute = (group["ts_ms"] - START_MS) // 60_000
        for m in (0, 6, 11):
            window = group[minute == m]
            expected = reference(window["value"].to_numpy(), window["ts_ms"].to_numpy(), START_MS + m * 60_000)
            for agg, value in expected.items():
                got = rows[(equipment, m)][f"{sensor}__{agg}"]
                assert got == pytest.approx(value, rel=1e-9, abs=1e-12), f"{equipment} minute {m} {sensor}__{agg}"
                checked += 1
    assert checked == 11 * 3 * 12


def test_speed_kurtosis_survives_a_large_mean_with_a_tiny_spread(spark, shipped_views, readings, deduplicated):
    """1500 rpm +- 0.05: raw power sums would lose ~8 digits; centring keeps the reference's value."""
    rows = engines.run_spark(spark, shipped_views["machine_1m"], readings)
    row = next(r for r in rows if r["equipment_id"] == "fan-001" and r["window_start"].minute == 2)
    speed = deduplicated[(deduplicated.equipment_id == "fan-001") & (deduplicated.sensor == "speed")
                         & ((deduplicated.ts_ms - START_MS) // 60_000 == 2)]
    expected = reference(speed["value"].to_numpy(), speed["ts_ms"].to_numpy(), START_MS + 120_000)
    assert row["speed__kurtosis"] == pytest.approx(expected["kurtosis"], rel=1e-9)
    assert row["speed__std"] == pytest.approx(expected["std"], rel=1e-9)


def test_spark_computes_the_spectral_features_per_window(spark, shipped_views, readings, deduplicated):
    view = shipped_views["machine_vib_fft"]
    rows = engines.run_spark(spark, view, readings)
    assert len(rows) == 3 * 12
    spec = view.spectral[0]
    for row in rows:
        m = row["window_start"].minute
        vib = deduplicated[(deduplicated.equipment_id == row["equipment_id"]) & (deduplicated.sensor == "vibration")
                           & ((deduplicated.ts_ms - START_MS) // 60_000 == m)]
        expected = spectral_features(vib["ts_ms"].to_numpy(), vib["value"].to_numpy(), spec)
        for col, value in expected.items():
            assert row[col] == pytest.approx(value, rel=1e-9)
        # the generated vibration is a 0.3 Hz sine plus noise: the mid band (0.25-0.5 Hz) dominates
        assert abs(row["vibration__dominant_frequency"] - 0.3) < 0.02
        assert row["vibration__band_energy_mid"] > row["vibration__band_energy_low"] + row["vibration__band_energy_high"]


def test_spectral_features_are_null_for_too_few_readings(shipped_views):
    spec = shipped_views["machine_vib_fft"].spectral[0]
    assert set(spectral_features(np.array([0, 500, 1000]), np.array([1.0, 2.0, 1.0]), spec).values()) == {None}


def test_every_partial_renders_to_sql():
    for partial in PARTIALS.values():
        assert render_sql(partial.row_expr, lambda name: name)
    assert render_sql(Ref("a") / 2.0, lambda n: n) == "(a / 2.0E0)"
