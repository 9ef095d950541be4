"""Benchmark: the training set's trailing means, pandas rolling per machine beside Spark's sliding frame.

Synthetic feature windows (``machines`` x 1-minute windows over ``days`` x ``columns`` doubles, 2%
missing) in a cached Spark DataFrame; the model inputs ``sensorlake train`` adds to them (a 30-minute
trailing mean and a 12-hour baseline deviation per column, the shipped configuration) computed two
ways, one after the other, each written to Spark's ``noop`` sink (every row computed, nothing kept):

- ``pandas_s``: :func:`training.dataset.with_rolling_means`, the shipped code (pandas' time-based
  rolling mean per machine through ``groupBy("equipment_id").applyInPandas``);
- ``sliding_s``: the same means as Spark window aggregates over ``rangeBetween(-span, 0)`` (what the
  training set used before; Spark re-sums every row of the frame for each row).

``ratio`` = sliding_s / pandas_s. ``max_abs_diff`` compares the two results on every row (they
must agree to rounding). Each side runs once to warm up, then is timed.

    python -m bench training_set --rows 2000000
    BENCH training_set rows=... machines=... columns=30 pandas_s=... sliding_s=... ratio=... max_abs_diff=...

Example::

    from bench import training_set
    training_set.run(cfg, rows=200_000)
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from bench import emit
from sensorlake.config import Config

DEFAULT_ROWS = 1_000_000       # feature windows
COLUMNS = 30
DAYS = 2
SPANS, BASELINE = [timedelta(minutes=30)], timedelta(hours=12)


def synthetic_windows(spark, machines: int, windows: int, columns: int, seed: int = 1):
    """A cached DataFrame of ``machines`` x ``windows`` 1-minute feature windows: equipment_id, window_end, c0.."""
    from pyspark.sql import functions as F

    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    value = lambda c: F.when(F.rand(seed + 1000 + c) >= 0.02, F.randn(seed + c) * 10 + 50)   # noqa: E731
    df = (spark.range(machines * windows)
          .select(F.format_string("m%04d", (F.col("id") / windows).cast("int")).alias("equipment_id"),
                  (F.lit(start) + F.make_dt_interval(mins=(F.col("id") % windows).cast("int"))).alias("window_end"),
                  *[value(c).alias(f"c{c}") for c in range(columns)]))
    return df.cache()


def sliding_frame_means(df, columns: list[str], spans, baseline):
    """The same model inputs as Spark window aggregates over sliding range frames (the comparison)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from training.dataset import _span_name

    def frame(span):
        return (Window.partitionBy("equipment_id").orderBy(F.unix_micros("window_end"))
                .rangeBetween(-int(span.total_seconds() * 1_000_000) + 1, 0))

    def mean(c, span):
        return F.avg(F.when(~F.isnan(F.col(c)), F.col(c))).over(frame(span))

    cols = [mean(c, s).alias(f"{c}__mean_{_span_name(s)}") for s in spans for c in columns]
    cols += [((mean(c, spans[0]) if spans else F.col(c)) - mean(c, baseline)).alias(f"{c}__dev_{_span_name(baseline)}")
             for c in columns]
    return df.select("*", *cols)


def _timed_noop(df) -> float:
    started = time.perf_counter()
    df.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - started


def _max_abs_diff(a, b, names: list[str]) -> float:
    from pyspark.sql import functions as F

    joined = a.alias("a").join(b.alias("b"), ["equipment_id", "window_end"])
    diffs = [F.max(F.abs(F.col(f"a.`{n}`") - F.col(f"b.`{n}`"))) for n in names]
    nulls = [F.sum((F.col(f"a.`{n}`").isNull() != F.col(f"b.`{n}`").isNull()).cast("int")) for n in names]
    row = joined.select(F.greatest(*diffs).alias("d"), sum(nulls).alias("n"), F.count("*").alias("rows")).first()
    if row["n"] or row["rows"] != a.count():
        raise AssertionError(f"the two computations differ in missing values ({row['n']}) or rows ({row['rows']})")
    return float(row["d"] or 0.0)


def run(cfg: Config, rows: int | None = None, columns: int = COLUMNS, days: int = DAYS) -> dict:
    from sensorlake.lake.spark import build_spark_session
    from training.dataset import with_rolling_means

    rows = rows or DEFAULT_ROWS
    windows = days * 24 * 60
    machines = max(1, rows // windows)
    spark = build_spark_session(cfg, app_name="sensorlake-bench-training-set")
    df = synthetic_windows(spark, machines, windows, columns)
    n = df.count()
    names = [f"c{c}" for c in range(columns)]
    shipped, added = with_rolling_means(df, names, SPANS, BASELINE)
    sliding = sliding_frame_means(df, names, SPANS, BASELINE)
    for warm_up in (shipped, sliding):        # codegen, Python workers
        _timed_noop(warm_up.limit(1000))
    pandas_s = _timed_noop(shipped)
    sliding_s = _timed_noop(sliding)
    diff = _max_abs_diff(shipped, sliding, added)
    df.unpersist()
    return emit("training_set", rows=n, machines=machines, columns=columns, derived=len(added),
                pandas_s=round(pandas_s, 2), sliding_s=round(sliding_s, 2), ratio=round(sliding_s / pandas_s, 2),
                max_abs_diff=diff)
