"""Flink and Spark compute the same features from one definition (marker ``parity``).

The Flink side runs the exact SQL text ``compile_flink.compile_view`` returns (what the streaming
job runs) over a bounded, out-of-order CSV source with the view's watermark; the Spark side runs
``compile_spark.compute_view``. Rows must agree on keys, counts and NULLs exactly and on every
double to a relative 1e-9 (see tests/feature_defs/engines.py).
"""
from __future__ import annotations

import pytest

from feature_defs import UnsupportedFeature, compile_flink
from feature_defs.formulas import AGGREGATIONS, Aggregation
from tests.feature_defs import engines
from tests.feature_defs.readings_data import MACHINES, MINUTES

pytestmark = pytest.mark.parity

FLINK_VIEWS = ("machine_1m", "machine_10m_sliding")


@pytest.fixture(scope="module")
def flink_env():
    """One streaming TableEnvironment (local mini cluster) for the whole module."""
    return engines.flink_table_env(parallelism=2)


@pytest.fixture(scope="module")
def flink_rows(flink_env, shipped_views, readings_csv):
    """Flink rows of every shipped view Flink can compute, computed once."""
    return {name: engines.run_flink(flink_env, shipped_views[name], readings_csv) for name in FLINK_VIEWS}


@pytest.fixture(scope="module")
def spark_rows(spark, shipped_views, readings):
    return {name: engines.run_spark(spark, shipped_views[name], readings) for name in FLINK_VIEWS}


def test_every_shipped_view_is_covered(shipped_views):
    assert set(FLINK_VIEWS) == {v.name for v in shipped_views.views_for("flink")}


@pytest.mark.parametrize("name", FLINK_VIEWS)
def test_flink_and_spark_give_the_same_rows(name, spark, shipped_views, flink_rows, spark_rows):
    view = shipped_views[name]
    expected_windows = {"machine_1m": MINUTES, "machine_10m_sliding": MINUTES + 9}[name]
    assert len(flink_rows[name]) == len(MACHINES) * expected_windows
    engines.assert_same_features(spark, view, flink_rows[name], spark_rows[name])


@pytest.mark.parametrize("name", FLINK_VIEWS)
def test_every_aggregation_of_the_view_is_compared_with_values(name, shipped_views, flink_rows):
    """Guard against a vacuous parity: every feature column has non-NULL values in the test input."""
    view = shipped_views[name]
    for col in view.feature_columns:
        assert any(r[col] is not None for r in flink_rows[name]), f"{col} is NULL everywhere"


def test_duplicates_count_once_and_the_larger_value_wins(flink_rows, spark_rows, readings):
    keys = {(r[1], r[2], r[3]) for r in readings}
    total = sum(r[f"{s}__count"] for r in flink_rows["machine_1m"] for s in ("vibration", "temperature", "current", "pressure", "speed"))
    assert total == len(keys) < len(readings)


def test_edge_windows_give_the_documented_nulls(flink_rows):
    rows = {(r["equipment_id"], r["window_start"].minute): r for r in flink_rows["machine_1m"]}
    constant = rows[("pump-001", 3)]
    assert constant["temperature__std"] == 0.0 and constant["temperature__slope"] == 0.0
    assert constant["temperature__skewness"] is None and constant["temperature__kurtosis"] is None
    single = rows[("conveyor-001", 5)]
    assert single["current__count"] == 1 and single["current__std"] is None and single["current__slope"] is None
    absent = rows[("fan-001", 7)]
    assert absent["speed__count"] == 0 and absent["speed__mean"] is None and absent["current_per_speed"] is None


def test_a_mutated_formula_in_one_engine_fails_the_parity_check(spark, shipped_views, readings, flink_rows, monkeypatch):
    """Kurtosis without the '- 3' (non-excess) in Spark only: the comparison must fail."""
    from feature_defs import compile_spark

    mutated = dict(AGGREGATIONS)
    original = AGGREGATIONS["kurtosis"]
    mutated["kurtosis"] = Aggregation("kurtosis", original.expr + 3.0, "mutated")
    monkeypatch.setattr(compile_spark, "AGGREGATIONS", mutated)
    view = shipped_views["machine_1m"]
    with pytest.raises(Exception) as failure:
        engines.assert_same_features(spark, view, flink_rows["machine_1m"], engines.run_spark(spark, view, readings))
    assert "DataFramesNotEqual" in type(failure.value).__name__ or "not equal" in str(failure.value).lower()


def test_flink_refuses_spectral_features_by_name(shipped_views):
    with pytest.raises(UnsupportedFeature, match=r"machine_vib_fft: vibration__band_energy_low is not computable by the flink engine"):
        compile_flink.compile_view(shipped_views["machine_vib_fft"])
