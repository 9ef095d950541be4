"""Run a feature view through both engines on the same readings and compare the rows.

* Flink: the exact SQL of ``compile_flink.compile_view`` in a streaming TableEnvironment over a
  bounded CSV filesystem source whose watermark is the view's allowed lateness; the source's end
  sends the final watermark, which fires every window.
* Spark: ``compile_spark.compute_view`` on a DataFrame of the same readings.
* Comparison: chispa ``assert_approx_df_equality`` on *relative* differences: every double of
  both rows is divided by ``max(|flink|, |spark|)`` first, so chispa's absolute ``precision``
  acts as a relative tolerance (NULL must match NULL; counts and keys must match exactly).
"""
from __future__ import annotations

import datetime as dt
import math
import sys

from feature_defs import compile_flink, compile_spark

UTC = dt.timezone.utc
RELATIVE_TOLERANCE = 1e-9


def flink_table_env(parallelism: int = 2):
    """A streaming TableEnvironment (local mini cluster) with UTC and this venv's Python."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    conf.set("python.executable", sys.executable)
    conf.set("python.client.executable", sys.executable)
    conf.set("table.local-time-zone", "UTC")
    conf.set("parallelism.default", str(parallelism))
    return t_env


def run_flink(t_env, view, csv_path, source: str = "readings") -> list[dict]:
    """Rows (dicts, UTC-aware timestamps) of the compiled Flink SQL over the readings CSV."""
    t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {source}")
    t_env.execute_sql(compile_flink.source_ddl(
        view, source, {"connector": "filesystem", "path": str(csv_path), "format": "csv"},
        event_time="event_time AS TO_TIMESTAMP_LTZ(ts_ms, 3)", extra_columns=("ts_ms BIGINT",)))
    sql = compile_flink.compile_view(view, source)
    columns = view.output_columns
    out = []
    with t_env.sql_query(sql).execute().collect() as results:
        for row in results:
            record = dict(zip(columns, row))
            for key in ("window_start", "window_end"):
                record[key] = record[key].replace(tzinfo=UTC)
            out.append(record)
    return out


def readings_frame(spark, rows):
    """A Spark DataFrame of (site_id, equipment_id, sensor, event_time, value) from the generated tuples."""
    from pyspark.sql import functions as F

    df = spark.createDataFrame(rows, "site_id string, equipment_id string, sensor string, ts_ms long, value double")
    return df.select("site_id", "equipment_id", "sensor", F.timestamp_millis("ts_ms").alias("event_time"), "value")


def run_spark(spark, view, rows) -> list[dict]:
    """Rows (dicts, UTC-aware timestamps) of compute_view over the same readings."""
    out = []
    for row in compile_spark.compute_view(readings_frame(spark, rows), view).collect():
        record = row.asDict()
        for key in ("window_start", "window_end"):
            value = record[key]
            record[key] = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        out.append(record)
    return out


def _key(record) -> tuple:
    return (record["site_id"], record["equipment_id"], record["window_start"], record["window_end"])


def relative_frames(spark, view, left: list[dict], right: list[dict]):
    """Two DataFrames whose doubles are divided by max(|left|, |right|) per row and column."""
    types = view.column_types()
    doubles = [c for c, t in types.items() if t == "double"]
    by_key = {_key(r): r for r in right}
    scaled_left, scaled_right = [], []
    for rec in left:
        other = by_key.get(_key(rec))
        a, b = dict(rec), dict(other) if other else None
        if b is not None:
            for col in doubles:
                x, y = a[col], b[col]
                if isinstance(x, float) and isinstance(y, float) and math.isfinite(x) and math.isfinite(y):
                    scale = max(abs(x), abs(y)) or 1.0
                    a[col], b[col] = x / scale, y / scale
            scaled_right.append(b)
        scaled_left.append(a)
    seen = {_key(r) for r in left}
    scaled_right += [dict(r) for r in right if _key(r) not in seen]
    spark_types = {"string": "string", "timestamp": "timestamp", "bigint": "bigint", "double": "double"}
    schema = ", ".join(f"`{c}` {spark_types[types[c]]}" for c in view.output_columns)
    as_rows = lambda recs: [tuple(r[c] for c in view.output_columns) for r in recs]  # noqa: E731
    return spark.createDataFrame(as_rows(scaled_left), schema), spark.createDataFrame(as_rows(scaled_right), schema)


def assert_same_features(spark, view, flink_rows: list[dict], spark_rows: list[dict],
                         tolerance: float = RELATIVE_TOLERANCE) -> None:
    """chispa assert_approx_df_equality on relative differences (see module doc)."""
    from chispa import assert_approx_df_equality

    left, right = relative_frames(spark, view, flink_rows, spark_rows)
    assert_approx_df_equality(left, right, precision=tolerance, ignore_row_order=True,
                              ignore_nullable=True, allow_nan_equality=False)


def max_relative_difference(view, flink_rows, spark_rows) -> dict[str, float]:
    """Largest relative difference per double column (for reporting)."""
    doubles = [c for c, t in view.column_types().items() if t == "double"]
    by_key = {_key(r): r for r in spark_rows}
    worst = {c: 0.0 for c in doubles}
    for rec in flink_rows:
        other = by_key.get(_key(rec))
        for col in doubles:
            x, y = rec[col], other[col] if other else None
            if isinstance(x, float) and isinstance(y, float) and (x or y):
                worst[col] = max(worst[col], abs(x - y) / max(abs(x), abs(y)))
    return worst
