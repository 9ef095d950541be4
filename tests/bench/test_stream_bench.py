"""The stream benchmark's pure helpers: the plain-Python features, its windowing, and the freshness arithmetic.

No benchmark runs here (``python -m bench stream`` does); these pin down what its figures mean.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from bench.stream import WindowAssembler, evaluate, freshness, parse_records, percentile, watermark_passages, window_features
from feature_defs.formulas import AGGREGATIONS, Ref, case, gt, when
from tests.feature_defs.engines import assert_same_features, run_spark
from tests.feature_defs.readings_data import generate_readings

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def machine_1m(shipped_views):
    return shipped_views["machine_1m"]


@pytest.fixture(scope="module")
def shipped_views():
    from feature_defs import load_views
    from sensorlake.config import EQUIPMENT_TYPES_FILE
    from sensorlake.equipment import load_equipment_types

    return load_views(equipment_types=load_equipment_types(EQUIPMENT_TYPES_FILE))


def _as_rows(frame: pd.DataFrame) -> list[dict]:
    rows = []
    for rec in frame.to_dict("records"):
        for key in ("window_start", "window_end"):
            rec[key] = rec[key].to_pydatetime().astimezone(UTC)
        rows.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()})
    return rows


@pytest.mark.parity
def test_pandas_features_equal_spark_compute_view(spark, machine_1m):
    readings = generate_readings()   # out of order, duplicated, constant / single / absent sensors
    frame = pd.DataFrame(readings, columns=["site_id", "equipment_id", "sensor", "ts_ms", "value"])
    python_rows = _as_rows(window_features(frame, machine_1m))
    assert len(python_rows) == 36
    assert_same_features(spark, machine_1m, python_rows, run_spark(spark, machine_1m, readings))


def test_evaluate_follows_sql_null_semantics():
    n, x = np.array([0.0, 2.0, np.nan]), np.array([1.0, 4.0, 5.0])
    assert np.isnan(evaluate(when(gt(Ref("n"), 0.0), Ref("x") / Ref("n")), {"n": n, "x": x}.__getitem__)).tolist() == [True, False, True]
    assert evaluate(case(gt(Ref("n"), 0.0), 1.0, 2.0), {"n": n}.__getitem__).tolist() == [2.0, 1.0, 2.0]
    mean = evaluate(AGGREGATIONS["mean"].expr, {"n": np.array([4.0]), "c": np.array([10.0]), "s1": np.array([2.0])}.__getitem__)
    assert mean.tolist() == [10.5]


def test_percentile_interpolates_and_is_nan_when_empty():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(np.arange(101.0), 99) == 99.0
    assert math.isnan(percentile([], 99))


def test_freshness_counts_only_keys_that_became_readable():
    since = {("pump-001", 0): 10.0, ("pump-001", 60_000): 20.0}
    assert freshness({("pump-001", 0): 12.5}, since).tolist() == [2.5]


def test_a_window_closes_when_the_slowest_partition_passes_its_end_plus_lateness():
    lateness = 60_000
    slice_end = np.array([100.0, 101.0, 102.0, 103.0])
    # partition 0 runs ahead; partition 1 reaches 120 s (end 60 s + lateness) only in slice 2
    slice_max = np.array([[130_000, 50_000], [140_000, 100_000], [150_000, 119_999], [160_000, 200_000]], dtype=float)
    closes = watermark_passages(slice_end, slice_max, np.array([60_000, 150_000]), lateness)
    assert closes[0] == 102.0                  # window [0, 60 s) fires at watermark 59.999 s
    assert math.isnan(closes[1])               # needs 209.999 s in every partition: never reached


def test_the_floor_carries_event_times_of_earlier_phases():
    closes = watermark_passages(np.array([5.0]), np.array([[-np.inf, 119_999.0]]), np.array([60_000]), 60_000,
                                floor_ms=np.array([200_000.0, 0.0]))
    assert closes.tolist() == [5.0]


def _batch(partition, ts):
    n = len(ts)
    return pd.DataFrame({"partition": partition, "offset": range(n), "site_id": ["s"] * n, "equipment_id": ["e"] * n,
                         "sensor": ["speed"] * n, "ts_ms": ts, "value": [1.0] * n, "unit": ["rpm"] * n})


def test_the_assembler_drops_late_readings_per_partition_and_pops_closed_windows():
    asm = WindowAssembler(window_ms=60_000, lateness_ms=10_000, partitions=2)
    asm.add(_batch([0], [1_000]))
    assert asm.watermark is None                                # partition 1 has not spoken yet
    kept = asm.add(_batch([0, 0, 1], [75_000, 64_000, 71_000]))
    assert kept["ts_ms"].tolist() == [75_000, 71_000]             # 64 s <= 75 s - 10 s in partition 0: late
    assert asm.watermark == 61_000                              # min(75, 71) s - 10 s
    closed = asm.closed_windows()
    assert closed["ts_ms"].tolist() == [1_000]                  # [0, 60 s) closed; [60, 120 s) still open
    assert asm.closed_windows() is None


def test_parse_records_drops_every_kind_of_invalid_record():
    good = b'{"site_id": "a", "equipment_id": "pump-001", "sensor": "pressure", "event_time": "2026-01-05T00:00:00.500Z", "value": 5.0, "unit": "bar"}'
    records = [good, good[:40], good.replace(b"5.0", b"NaN"), good.replace(b"5.0", b"500.0"),
               good.replace(b"pressure", b"humidity"), good.replace(b"pump-001", b"pump-999"),
               good.replace(b'"unit": "bar"', b'"unit": ""'), good.replace(b"5.0", b'"5"'),
               good.replace(b"2026-01-05T00:00:00.500Z", b"yesterday")]
    frame, dropped = parse_records(records, [0] * len(records), list(range(len(records))),
                                   {"pump-001": "pump"}, {("pump", "pressure"): (0.0, 60.0)})
    assert dropped == len(records) - 1
    assert frame["ts_ms"].tolist() == [1_767_571_200_500]
